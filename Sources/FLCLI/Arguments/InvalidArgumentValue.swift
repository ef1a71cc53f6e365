/// Why a `ValueParser` refused a text. The parser of the command line turns it into a usage error
/// that names the argument: `--port expects an integer in 0...65535, got '70000'`, or
/// `--role: unknown role 'root'; expected one of …`.
public enum InvalidArgumentValue: Error, Sendable, Equatable {
    /// The text is not of the form described (`an integer in 1...36500`, `HOST:PORT`).
    case expected(String)
    /// The text was read and refused for this reason, which says what was expected.
    case refused(String)
}
