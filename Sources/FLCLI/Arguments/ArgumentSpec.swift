/// One argument a command accepts: a flag, an option with a value, or a positional value.
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

    public var kind: Kind
    /// Spellings, long first: `["--plan", "-p"]`; for a positional, its display name.
    public var names: [String]
    /// How the value is shown in help (`FILE`, `HOST:PORT`).
    public var valueName: String
    public var help: String
    public var isRequired: Bool

    /// The name arguments are looked up by (`--plan`, or the positional's name).
    public var key: String { names[0] }

    public static func flag(_ names: String..., help: String) -> ArgumentSpec {
        ArgumentSpec(kind: .flag, names: names, valueName: "", help: help, isRequired: false)
    }

    public static func option(_ names: String..., value: String, help: String, required: Bool = false) -> ArgumentSpec {
        ArgumentSpec(kind: .option, names: names, valueName: value, help: help, isRequired: required)
    }

    public static func repeated(_ names: String..., value: String, help: String) -> ArgumentSpec {
        ArgumentSpec(kind: .repeatedOption, names: names, valueName: value, help: help, isRequired: false)
    }

    public static func positional(_ name: String, help: String, required: Bool = true) -> ArgumentSpec {
        ArgumentSpec(kind: .positional, names: [name], valueName: name.uppercased(), help: help, isRequired: required)
    }

    /// How the argument appears in a usage line.
    var usage: String {
        let body: String
        switch kind {
        case .flag: body = key
        case .option: body = "\(key) \(valueName)"
        case .repeatedOption: body = "\(key) \(valueName)..."
        case .positional: body = "<\(key)>"
        }
        return isRequired ? body : "[\(body)]"
    }

    /// How the argument is listed in help.
    var listing: String {
        switch kind {
        case .flag: names.joined(separator: ", ")
        case .option, .repeatedOption: names.joined(separator: ", ") + " \(valueName)"
        case .positional: "<\(key)>"
        }
    }
}
