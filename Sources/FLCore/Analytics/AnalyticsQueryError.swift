/// A query that cannot be run, naming the field at fault (`histogram.bins`, `columns[2]`) and, when
/// it came from a file, where in it.
public struct AnalyticsQueryError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The field, as the query file spells it: `columns[2]`, `histogram.bins`, `by`.
    public var field: String
    public var reason: String
    /// `file:line:column` of the offending value, when the query came from text.
    public var location: TextLocation?

    public init(field: String, _ reason: String, location: TextLocation? = nil) {
        self.field = field
        self.reason = reason
        self.location = location
    }

    public var description: String { "\(location.map { "\($0): " } ?? "")\(field): \(reason)" }
}
