import CBuildInfo

/// What this build of SwiftFL is, for `--version`, the Debian package and the first log line of
/// a long-lived role: an operator asked "which version runs at that site?" must be able to answer.
public enum BuildInfo {
    /// The release number; the Debian package takes its version from here (via `fx --version`).
    public static let version = "0.1.0"

    /// The commit built from, with `-dirty` when tracked files differed; "unknown" when built
    /// outside `make` or outside a git checkout.
    public static var commit: String { String(cString: swiftfl_build_commit()) }

    /// `SwiftFL 0.1.0 (commit 0123456789ab)`.
    public static var summary: String { "SwiftFL \(version) (commit \(commit))" }
}
