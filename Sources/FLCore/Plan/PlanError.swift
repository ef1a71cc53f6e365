/// Everything that can go wrong reading a plan: a syntax error, a defaults file that cannot be
/// found, a key nothing reads, or a setting of the wrong type. The description always starts with
/// the file, and with `:line:column` whenever the offending text is known, then says what was
/// expected and what was found.
public struct PlanError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem this is; the message carries the detail.
    public enum Kind: Sendable, Hashable {
        /// The text is not in the supported YAML subset (or not valid JSON for the JSON reader).
        case syntax
        /// A `defaults:` reference could not be resolved (missing file, cycle, refused path, too deep).
        case defaults
        /// A file could not be read.
        case io
        /// A setting exists but has the wrong type.
        case type
        /// A required setting is absent (or null).
        case missing
        /// A value cannot be written in the requested output format (NaN or infinity in JSON).
        case output
        /// A key the plan's schema does not know: a misspelling, or a setting SwiftFL does not have
        /// (`PlanSchema`). The message names the nearest known key, or lists them.
        case unknownKey
    }

    public var kind: Kind
    /// The file the problem is in (the plan, a defaults file, or a pseudo name like `<json>`).
    public var file: String
    /// Line and column of the offending character, when known.
    public var location: TextLocation?
    /// The dotted path of the setting, for errors raised by typed access and output.
    public var keyPath: String?
    /// What was expected and what was found. For `.missing` errors: what was expected.
    public var message: String

    public init(_ kind: Kind, file: String, location: TextLocation? = nil, keyPath: String? = nil, message: String) {
        self.kind = kind
        self.file = file
        self.location = location
        self.keyPath = keyPath
        self.message = message
    }

    init(_ kind: Kind, at location: TextLocation, keyPath: String? = nil, _ message: String) {
        self.init(kind, file: location.file, location: location, keyPath: keyPath, message: message)
    }

    public var description: String {
        let place = location.map { "\($0)" } ?? file
        if kind == .missing, let keyPath {
            return "\(place): \(keyPath) is missing (\(message))"
        }
        if let keyPath, !keyPath.isEmpty {
            return "\(place): \(keyPath): \(message)"
        }
        return "\(place): \(message)"
    }
}
