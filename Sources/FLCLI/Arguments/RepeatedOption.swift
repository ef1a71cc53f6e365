/// An option given any number of times: `--host a --host b`. Read it with `parsed[option]`, every
/// value in the order given (empty when absent).
public struct RepeatedOption<Value: Sendable>: CommandArgument {
    public let spec: ArgumentSpec

    public init(_ name: String, value: String, help: String, as parser: ValueParser<Value>) {
        spec = ArgumentSpec(kind: .repeatedOption, name: name, valueName: value, help: help, isRequired: false, parser: parser)
    }
}

extension RepeatedOption where Value == String {
    /// A repeated option whose values are their text.
    public init(_ name: String, value: String, help: String) {
        self.init(name, value: value, help: help, as: .text)
    }
}
