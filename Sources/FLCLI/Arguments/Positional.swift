/// A bare value, taken in the order positionals are declared: `fx experiment status NAME`. Read
/// it as an `Option`: `parsed[positional]` or `try parsed.required(positional)`.
public struct Positional<Value: Sendable>: SingleValueArgument {
    public let spec: ArgumentSpec
    public let defaultValue: Value? = nil

    /// `name` is shown as `<name>` in usage and help; an optional one is listed with "(optional)".
    public init(_ name: String, help: String, required: Bool = true, as parser: ValueParser<Value>) {
        spec = ArgumentSpec(kind: .positional, name: name, valueName: name.uppercased(), help: help, isRequired: required, parser: parser)
    }
}

extension Positional where Value == String {
    /// A positional whose value is its text.
    public init(_ name: String, help: String, required: Bool = true) {
        self.init(name, help: help, required: required, as: .text)
    }
}
