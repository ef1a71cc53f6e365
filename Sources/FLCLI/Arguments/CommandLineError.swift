/// A command line that does not fit the command: the message says what was wrong and the user is
/// pointed at `--help`. Exits with status 64 (EX_USAGE).
public struct CommandLineError: Error, Sendable, CustomStringConvertible {
    public var commandPath: String
    public var message: String

    public init(commandPath: String, message: String) {
        self.commandPath = commandPath
        self.message = message
    }

    public var description: String { "\(commandPath): \(message)\nSee '\(commandPath) --help'." }
}
