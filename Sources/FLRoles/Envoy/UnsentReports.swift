import FLWire

/// The reports an Envoy could not send yet (no connection to the Director), sent first on the next
/// connection. Bounded: a site cut off for weeks keeps producing reports (each collaborator start and
/// exit), so only the newest `capacity` are kept — the Director acts on the latest state of each
/// experiment, and an older report it never sees only loses history it can ask for again.
struct UnsentReports: Sendable {
    /// Kept at most, newest last.
    let capacity: Int
    private(set) var reports: [SiteReport] = []
    /// Reports dropped since the last `take()`, oldest first.
    private(set) var dropped = 0

    /// An Envoy keeps 256 reports, far more than one outage of ordinary length produces.
    static let defaultCapacity = 256

    init(capacity: Int = UnsentReports.defaultCapacity) {
        precondition(capacity > 0, "an UnsentReports must keep at least one report")
        self.capacity = capacity
    }

    /// Keeps `report`, dropping the oldest when full. Returns true when this is the first report
    /// dropped since the last `take()`, so the caller logs the loss once per outage, not once per report.
    @discardableResult
    mutating func append(_ report: SiteReport) -> Bool {
        reports.append(report)
        guard reports.count > capacity else { return false }
        reports.removeFirst(reports.count - capacity)
        dropped += 1
        return dropped == 1
    }

    /// Hands over the reports kept (oldest first) and how many were dropped, and starts afresh.
    mutating func take() -> (reports: [SiteReport], dropped: Int) {
        defer {
            reports = []
            dropped = 0
        }
        return (reports, dropped)
    }
}
