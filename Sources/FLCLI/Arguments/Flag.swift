/// `--json`: given or not. Read it with `parsed[flag]`.
public struct Flag: CommandArgument {
    public let spec: ArgumentSpec

    public init(_ name: String, help: String) {
        spec = ArgumentSpec(kind: .flag, name: name, valueName: "", help: help, isRequired: false, parser: ValueParser<Bool>?.none)
    }
}
