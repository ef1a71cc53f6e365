import FLCore

/// One JSON event line of a role's standard output (`{"event":"round_closed","round":2,…}`), read
/// as a value, so tests compare decoded fields instead of searching the encoder's text.
public struct EventLine: Sendable {
    /// The line's top-level fields.
    public let fields: PlanMapping

    /// The line read as a JSON object; nil for any other line (log text, a torn line).
    public init?(_ line: some StringProtocol) {
        guard let node = try? PlanNode.parseJSON(Array(line.utf8), file: "event line"), let mapping = node.asMapping else { return nil }
        fields = mapping
    }

    /// The `event` field.
    public var event: String? { fields["event"]?.asString }

    /// Field `key` as a string, if it is one.
    public func string(_ key: String) -> String? { fields[key]?.asString }

    /// Field `key` as an integer, if it is one.
    public func int(_ key: String) -> Int? { fields[key]?.asInt }

    /// Whether `line` is an event of kind `kind` whose fields include `strings` and `ints`.
    public static func matches(_ line: some StringProtocol, _ kind: String, strings: [String: String] = [:], ints: [String: Int] = [:]) -> Bool {
        guard let event = EventLine(line), event.event == kind else { return false }
        return strings.allSatisfy { event.string($0.key) == $0.value } && ints.allSatisfy { event.int($0.key) == $0.value }
    }
}
