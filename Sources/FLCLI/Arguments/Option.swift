/// An option that takes one value, at most once: `--plan FILE` or `--plan=FILE`. Read it with
/// `parsed[option]` (nil when absent and without default) or `try parsed.required(option)`.
public struct Option<Value: Sendable>: SingleValueArgument {
    public let spec: ArgumentSpec
    public let defaultValue: Value?

    /// - Parameters:
    ///   - name: `--plan`.
    ///   - value: how the value is shown in help and errors (`FILE`).
    ///   - required: the command line is refused without it.
    ///   - defaultValue: what reading it gives when it is not given (the help text says it in words).
    ///   - parser: how the text becomes the value; its refusals name the option.
    public init(_ name: String, value: String, help: String, required: Bool = false, default defaultValue: Value? = nil,
                as parser: ValueParser<Value>) {
        precondition(!(required && defaultValue != nil), "\(name): a required option has no default")
        spec = ArgumentSpec(kind: .option, name: name, valueName: value, help: help, isRequired: required, parser: parser)
        self.defaultValue = defaultValue
    }
}

extension Option where Value == String {
    /// An option whose value is its text.
    public init(_ name: String, value: String, help: String, required: Bool = false, default defaultValue: String? = nil) {
        self.init(name, value: value, help: help, required: required, default: defaultValue, as: .text)
    }
}
