import FLCore

/// One JSON line an aggregator or Director prints (`--events`, `--log-format json`), read as values, so
/// tests compare fields rather than substrings of an encoding (key order, spacing and escapes are the
/// encoder's business).
public struct EventLine: Sendable {
    public let fields: PlanMapping

    /// The object on `line`; nil when the line is not a JSON object.
    public init?(_ line: some StringProtocol) {
        guard let node = try? PlanNode.parseJSON(Array(line.utf8), allowNonFiniteNumbers: true), let object = node.asMapping else { return nil }
        fields = object
    }

    /// The `event` field.
    public var event: String? { fields["event"]?.asString }

    public subscript(key: String) -> PlanNode? { fields[key] }

    /// Whether this is a `kind` event whose string fields hold `values`.
    public func matches(_ kind: String, _ values: [String: String] = [:]) -> Bool {
        event == kind && values.allSatisfy { fields[$0.key]?.asString == $0.value }
    }
}
