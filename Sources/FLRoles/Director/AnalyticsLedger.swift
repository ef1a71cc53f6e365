import FLCore
import FLWire

/// The Director's federated analytics queries: those waiting for their sites and the results kept
/// in memory, with the requests for results being held. A value owned by `Director.analytics` (a
/// Mutex, taken after `Director.state` when both are needed, never before it); it does no I/O:
/// what it decides is returned, and the Director sends and writes it after unlocking.
struct AnalyticsLedger {
    /// A query waiting for its sites.
    struct Pending {
        var result: AnalyticsResult
        var combiner: AnalyticsCombiner
        /// Sites asked whose task has not been handed over yet (their request for work was not held).
        var undelivered: Set<String>
    }

    /// A held request for a result.
    struct Waiter {
        var id: String
        var responder: Responder
    }

    private(set) var pending: [String: Pending] = [:]
    /// Results complete, newest last; the oldest are dropped from memory past `keptResults` (their
    /// files stay in the state folder).
    private(set) var finished: [String: AnalyticsResult] = [:]
    private var finishedOrder: [String] = []
    static let keptResults = 1000
    var waiters = HeldRequests<Waiter>()

    /// Starts query `id` asking `sites`; returns the result as it starts (every site `asked`).
    mutating func open(id: String, query: AnalyticsQuery, submittedBy: String, at time: Double, sites: [String]) -> AnalyticsResult {
        let result = AnalyticsResult(id: id, query: query, submittedBy: submittedBy, submittedAt: time,
                                     sites: sites.sorted().map { AnalyticsSiteOutcome(site: $0, state: .asked) })
        pending[id] = Pending(result: result, combiner: AnalyticsCombiner(query: query), undelivered: Set(sites))
        return result
    }

    /// The oldest query still to be handed to `envoy`, now counted as handed over.
    mutating func takeTask(for envoy: String) -> AnalyticsTask? {
        let waiting = pending.values.filter { $0.undelivered.contains(envoy) }.min { ($0.result.submittedAt, $0.result.id) < ($1.result.submittedAt, $1.result.id) }
        guard let id = waiting?.result.id else { return nil }
        pending[id]!.undelivered.remove(envoy)
        return AnalyticsTask(id: id, query: pending[id]!.result.query)
    }

    /// The result of `id`, complete or not, if this Director holds it in memory.
    func result(_ id: String) -> AnalyticsResult? { pending[id]?.result ?? finished[id] }

    /// What became of an answer.
    enum Outcome {
        /// Taken; the query may have completed with it (then the result is returned).
        case taken(completed: AnalyticsResult?)
        /// Not taken, with the reason (told to the site as an error); the site is marked rejected
        /// when it was asked, and the query may have completed.
        case refused(String, completed: AnalyticsResult?)
    }

    /// The query `id` asks, while it waits for its sites.
    func query(_ id: String) -> AnalyticsQuery? { pending[id]?.result.query }

    /// Takes `answer` from `envoy`: only for a query it was asked and has not answered yet, and
    /// only when `problem` (`AnalyticsCombiner.problem` of its cells, worked out before the lock
    /// was taken: checking is the costly part) is nil.
    mutating func accept(_ answer: AnalyticsAnswer, from envoy: String, problem: String?, at time: Double) -> Outcome {
        guard var query = pending[answer.id], let site = query.result.sites.firstIndex(where: { $0.site == envoy }) else {
            return .refused("no analytics query '\(answer.id)' is waiting for '\(envoy)'", completed: nil)
        }
        guard query.result.sites[site].state == .asked, !query.undelivered.contains(envoy) else {
            return .refused("'\(envoy)' was not sent query '\(answer.id)' or has answered it already", completed: nil)
        }
        var refusal: String?
        if !answer.refusal.isEmpty {
            query.result.sites[site] = AnalyticsSiteOutcome(site: envoy, state: .refused, reason: answer.refusal)
        } else if let problem {
            query.result.sites[site] = AnalyticsSiteOutcome(site: envoy, state: .rejected, reason: problem)
            refusal = "the answer to '\(answer.id)' is refused: \(problem)"
        } else {
            query.combiner.add(site: envoy, answer.cells)
            query.result.sites[site] = AnalyticsSiteOutcome(site: envoy, state: .answered,
                                                            withheldCells: answer.cells.filter { !$0.suppressed.isEmpty }.count)
        }
        pending[answer.id] = query
        let completed = query.result.sites.allSatisfy { $0.state != .asked } ? finish(answer.id, at: time) : nil
        return refusal.map { .refused($0, completed: completed) } ?? .taken(completed: completed)
    }

    /// The deadline of `id` has passed: sites that have not answered are missing. Returns the
    /// completed result, or nil when it had completed already.
    mutating func expire(_ id: String, at time: Double) -> AnalyticsResult? {
        guard var query = pending[id] else { return nil }
        for i in query.result.sites.indices where query.result.sites[i].state == .asked {
            let delivered = !query.undelivered.contains(query.result.sites[i].site)
            query.result.sites[i].state = .missing
            query.result.sites[i].reason = delivered ? "no answer within \(query.result.query.deadlineSeconds) s"
                : "did not ask for work within \(query.result.query.deadlineSeconds) s (offline or busy)"
        }
        pending[id] = query
        return finish(id, at: time)
    }

    private mutating func finish(_ id: String, at time: Double) -> AnalyticsResult {
        let query = pending.removeValue(forKey: id)!
        var result = query.result
        result.cells = query.combiner.result
        result.finishedAt = time
        remember(result)
        return result
    }

    /// Keeps a complete result in memory (read back from its file, or just finished).
    mutating func remember(_ result: AnalyticsResult) {
        if finished.updateValue(result, forKey: result.id) == nil { finishedOrder.append(result.id) }
        while finishedOrder.count > Self.keptResults { finished.removeValue(forKey: finishedOrder.removeFirst()) }
    }
}
