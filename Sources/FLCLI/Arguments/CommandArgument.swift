/// An argument a command declares: a `Flag`, `Option`, `RepeatedOption` or `Positional`. Commands
/// list their declarations in `Command.init(arguments:)` and read the parsed values through the
/// same declarations, so the name is written once.
public protocol CommandArgument: Sendable {
    var spec: ArgumentSpec { get }
}

/// An argument with at most one value: an `Option` or a `Positional`.
public protocol SingleValueArgument: CommandArgument {
    associatedtype Value: Sendable
    /// The value when the argument is not given.
    var defaultValue: Value? { get }
}
