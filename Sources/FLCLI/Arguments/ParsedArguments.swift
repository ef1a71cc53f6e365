import FLWire

/// The arguments a command was given, checked against its specs, with typed accessors whose errors
/// name the option and what was expected.
public struct ParsedArguments: Sendable {
    /// The command path, e.g. `fx plan print`, for error messages.
    public let commandPath: String
    var flags: Set<String> = []
    var values: [String: [String]] = [:]

    init(commandPath: String) { self.commandPath = commandPath }

    /// Whether the flag was given.
    public func flag(_ name: String) -> Bool { flags.contains(name) }

    /// The option's value, if given.
    public func option(_ name: String) -> String? { values[name]?.last }

    /// Every value of a repeated option, in order.
    public func options(_ name: String) -> [String] { values[name] ?? [] }

    /// The option's value; a usage error when missing.
    public func required(_ name: String) throws -> String {
        guard let v = option(name) else { throw CommandLineError(commandPath: commandPath, message: "missing \(name)") }
        return v
    }

    /// The option as an integer within `range`.
    public func int(_ name: String, default value: Int? = nil, in range: ClosedRange<Int> = Int.min...Int.max) throws -> Int? {
        guard let text = option(name) else { return value }
        guard let v = Int(text), range.contains(v) else {
            throw CommandLineError(commandPath: commandPath, message: "\(name) expects an integer in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
        }
        return v
    }

    /// The option as a number of seconds or another non-negative real.
    public func double(_ name: String, default value: Double? = nil) throws -> Double? {
        guard let text = option(name) else { return value }
        guard let v = Double(text), v.isFinite, v >= 0 else {
            throw CommandLineError(commandPath: commandPath, message: "\(name) expects a non-negative number, got '\(text)'")
        }
        return v
    }

    /// `HOST:PORT` split into its parts (IPv6 hosts in brackets: `[::1]:9000`).
    public func endpoint(_ name: String) throws -> (host: String, port: Int)? {
        guard let text = option(name) else { return nil }
        guard let endpoint = Endpoint(text) else {
            throw CommandLineError(commandPath: commandPath, message: "\(name) expects HOST:PORT, got '\(text)'")
        }
        return (endpoint.host, endpoint.port)
    }
}
