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

    /// Field `key` as a string, if it is one.
    public func string(_ key: String) -> String? { fields[key]?.asString }

    /// Field `key` as an integer, if it is one.
    public func int(_ key: String) -> Int? { fields[key]?.asInt }

    /// Whether `line` is an event of kind `kind` whose fields include `strings` and `ints`.
    public static func matches(_ line: some StringProtocol, _ kind: String, strings: [String: String] = [:], ints: [String: Int] = [:]) -> Bool {
        guard let event = EventLine(line) else { return false }
        return event.matches(kind, strings) && ints.allSatisfy { event.int($0.key) == $0.value }
    }

    /// Whether this is a `kind` event whose string fields hold `values`.
    public func matches(_ kind: String, _ values: [String: String] = [:]) -> Bool {
        event == kind && values.allSatisfy { fields[$0.key]?.asString == $0.value }
    }

    /// The strings of a list field (e.g. `missing`), or nil when it is absent or not a list of strings.
    public func strings(_ key: String) -> [String]? {
        fields[key]?.asSequence?.map { $0.asString ?? "" }
    }
}
