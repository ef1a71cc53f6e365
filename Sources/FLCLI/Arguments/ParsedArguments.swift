/// The arguments a command was given, checked against its declarations and converted to their
/// types. Values are read through the declarations themselves (`parsed[Self.plan]`), so a name is
/// never spelt twice; reading a declaration the command does not list is a programming error.
public struct ParsedArguments: Sendable {
    /// The command path, e.g. `fx plan print`, for error messages.
    public let commandPath: String
    /// The names the command declares: what may be read.
    let declared: Set<String>
    /// Each given argument's values, converted by its parser, in the order given.
    var values: [String: [any Sendable]] = [:]
    var flags: Set<String> = []

    init(commandPath: String, declared: Set<String>) {
        self.commandPath = commandPath
        self.declared = declared
    }

    /// Whether the flag was given.
    public subscript(flag: Flag) -> Bool {
        checkDeclared(flag.spec)
        return flags.contains(flag.spec.name)
    }

    /// The value given, else the declaration's default, else nil.
    public subscript<Argument: SingleValueArgument>(argument: Argument) -> Argument.Value? {
        given(argument.spec, as: Argument.Value.self).last ?? argument.defaultValue
    }

    /// Every value of a repeated option, in the order given.
    public subscript<Value>(option: RepeatedOption<Value>) -> [Value] {
        given(option.spec, as: Value.self)
    }

    /// The value given or defaulted; a usage error naming the argument when there is neither.
    public func required<Argument: SingleValueArgument>(_ argument: Argument) throws(CommandLineError) -> Argument.Value {
        guard let value = self[argument] else { throw error("missing \(argument.spec.synopsis)") }
        return value
    }

    /// The option's value, else `text` (an environment variable's, say) read as the option reads its
    /// own, with the same error when it does not read; nil when there is neither.
    public func value<Value>(_ option: Option<Value>, orParsing text: String?) throws(CommandLineError) -> Value? {
        if let value = self[option] { return value }
        guard let text else { return nil }
        return try option.spec.value(of: text, commandPath: commandPath) as? Value
    }

    /// A usage error of this command.
    public func error(_ message: String) -> CommandLineError {
        CommandLineError(commandPath: commandPath, message: message)
    }

    private func given<Value>(_ spec: ArgumentSpec, as type: Value.Type) -> [Value] {
        checkDeclared(spec)
        return (values[spec.name] ?? []).map { value in
            guard let typed = value as? Value else {
                preconditionFailure("\(commandPath): \(spec.name) is declared with values of type \(Swift.type(of: value)), read as \(Value.self)")
            }
            return typed
        }
    }

    private func checkDeclared(_ spec: ArgumentSpec) {
        precondition(declared.contains(spec.name), "\(commandPath) reads \(spec.name), which it does not declare")
    }
}
