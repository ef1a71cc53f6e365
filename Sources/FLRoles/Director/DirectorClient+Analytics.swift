import FLCore
import FLWire

// Federated analytics from a data scientist's side: submit a query, read its result.
extension DirectorClient {
    /// Submits `query`; returns its result as it starts (its id, and every site asked).
    public func submitAnalytics(_ query: AnalyticsQuery) throws -> AnalyticsResult {
        try analyticsResult(from: try client.call(SubmitAnalytics(query: query), timeout: timeout))
    }

    /// The result of query `id`; with `wait` > 0 the Director holds the request until the result is
    /// complete or `wait` seconds pass.
    public func analyticsResult(_ id: String, wait: Double = 0) throws -> AnalyticsResult {
        try analyticsResult(from: try client.call(AnalyticsResultRequest(id: id, maximumWaitSeconds: wait), timeout: wait + timeout))
    }

    /// Waits (in long polls) until query `id` is complete or `deadline` passes; returns it as it then is.
    public func completedAnalytics(_ id: String, deadline: Deadline) throws -> AnalyticsResult {
        var result = try analyticsResult(id, wait: min(30, max(0, deadline.remainingSeconds)))
        while !result.isComplete && !deadline.hasPassed {
            result = try analyticsResult(id, wait: min(30, max(0.1, deadline.remainingSeconds)))
        }
        return result
    }

    private func analyticsResult(from reply: any WireMessage) throws -> AnalyticsResult {
        guard let reply = reply as? AnalyticsResultReply else { throw DirectorError("unexpected answer \(type(of: reply))") }
        return reply.result
    }
}
