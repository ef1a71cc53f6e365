/// A control message that does not decode, naming the message and field.
public struct WireDecodingError: Error, Sendable, CustomStringConvertible {
    public var context: String
    public var field: String
    public var reason: String
    public init(context: String, field: String, reason: String) {
        self.context = context
        self.field = field
        self.reason = reason
    }
    public var description: String { "malformed \(context): field '\(field)' \(reason)" }
}
