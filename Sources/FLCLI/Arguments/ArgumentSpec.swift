/// What the parser and the help text need to know of one declared argument, whatever its value's
/// type: commands declare `Option`, `Positional`, `Flag` and `RepeatedOption` constants, and each
/// of those carries its spec.
public struct ArgumentSpec: Sendable {
    public enum Kind: Sendable, Equatable {
        /// `--json`: present or not.
        case flag
        /// `--plan FILE` or `--plan=FILE`, at most once.
        case option
        /// `--host H`, any number of times.
        case repeatedOption
        /// A bare value, in order.
        case positional
    }

    public let kind: Kind
    /// `--plan`; for a positional, its display name (`file`). Values are stored under it.
    public let name: String
    /// How the value is shown in help (`FILE`, `HOST:PORT`); empty for a flag.
    public let valueName: String
    public let help: String
    public let isRequired: Bool
    /// Turns one given text into the value, type-erased; nil for a flag.
    let read: (@Sendable (String) -> Result<any Sendable, InvalidArgumentValue>)?

    init<Value: Sendable>(kind: Kind, name: String, valueName: String, help: String, isRequired: Bool, parser: ValueParser<Value>?) {
        self.kind = kind
        self.name = name
        self.valueName = valueName
        self.help = help
        self.isRequired = isRequired
        if let parser {
            self.read = { @Sendable text -> Result<any Sendable, InvalidArgumentValue> in
                parser.parse(text).map { value -> any Sendable in value }
            }
        } else {
            self.read = nil
        }
    }

    /// The argument as written, without brackets: `--plan FILE`, `--host HOST...`, `<file>`.
    var synopsis: String {
        switch kind {
        case .flag: name
        case .option: "\(name) \(valueName)"
        case .repeatedOption: "\(name) \(valueName)..."
        case .positional: "<\(name)>"
        }
    }

    /// How the argument appears in a usage line.
    var usage: String { isRequired ? synopsis : "[\(synopsis)]" }

    /// How the argument is listed in help.
    var listing: String {
        switch kind {
        case .flag: name
        case .option, .repeatedOption: "\(name) \(valueName)"
        case .positional: "<\(name)>"
        }
    }

    /// `text` read by `read`, or the usage error of `commandPath` that names this argument.
    func value(of text: String, commandPath: String) throws(CommandLineError) -> any Sendable {
        guard let read else { preconditionFailure("\(name) takes no value") }
        switch read(text) {
        case let .success(value): return value
        case let .failure(.expected(form)): throw CommandLineError(commandPath: commandPath, message: "\(name) expects \(form), got '\(text)'")
        case let .failure(.refused(reason)): throw CommandLineError(commandPath: commandPath, message: "\(name): \(reason)")
        }
    }
}
