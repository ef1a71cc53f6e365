/// What re-reading a long-lived role's configuration (`SIGHUP`) did: the settings that took effect
/// at once, and those that differ on disk but keep their old value until the next start (a listening
/// socket, a certificate, a folder cannot change under running connections and experiments).
public struct ConfigurationReload: Sendable, Equatable, CustomStringConvertible {
    /// Keys (as written in the configuration file) now in force with their new values.
    public var applied: [String] = []
    /// Keys whose new values wait for a restart.
    public var needsRestart: [String] = []

    public init() {}

    public var description: String {
        var parts: [String] = []
        parts.append(applied.isEmpty ? "no setting that can change while running changed" : "now in force: \(applied.joined(separator: ", "))")
        if !needsRestart.isEmpty { parts.append("changed but in force only after a restart: \(needsRestart.joined(separator: ", "))") }
        return parts.joined(separator: "; ")
    }

    /// Compares the setting at `path` in `merged` (the settings in force) and `new` (re-read): a
    /// reloadable one is copied into `merged`, any other difference is only noted.
    mutating func compare<Settings, Value: Equatable>(_ key: String, _ path: WritableKeyPath<Settings, Value>, new: Settings,
                                                      into merged: inout Settings, reloadable: Bool) {
        guard merged[keyPath: path] != new[keyPath: path] else { return }
        if reloadable {
            merged[keyPath: path] = new[keyPath: path]
            applied.append(key)
        } else {
            needsRestart.append(key)
        }
    }
}
