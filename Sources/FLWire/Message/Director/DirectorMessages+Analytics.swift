import FLCore

// MARK: - Federated analytics
//
// A data scientist submits a query (`SubmitAnalytics`); the Director checks it, gives it an id and
// hands it to every online Envoy as the answer to the request for work that Envoy keeps held at the
// Director (`AnalyticsTask` in place of a `WorkAssignment`). Each Envoy runs it on its shard and
// sends `AnalyticsAnswer`; the Director combines the answers and keeps the result, which
// `AnalyticsResultRequest` reads (held, like a status request, until it is complete or the wait ends).

extension MessageRegistry {
    static let analyticsMessages: [any WireMessage.Type] = [
        SubmitAnalytics.self, AnalyticsResultRequest.self, AnalyticsResultReply.self, AnalyticsTask.self, AnalyticsAnswer.self,
    ]
}

/// Submits a query; answered with `AnalyticsResultReply` (the result as it starts: every site asked).
public struct SubmitAnalytics: WireMessage {
    public static let type = MessageType(rawValue: 0x0240)
    public var query: AnalyticsQuery
    public init(query: AnalyticsQuery) { self.query = query }
}

/// Asks for a result; held until it is complete or `maximumWaitSeconds` pass.
public struct AnalyticsResultRequest: WireMessage {
    public static let type = MessageType(rawValue: 0x0241)
    public var id: String
    public var maximumWaitSeconds: Double
    public init(id: String, maximumWaitSeconds: Double = 0) {
        self.id = id
        self.maximumWaitSeconds = maximumWaitSeconds
    }
}

/// A query's result, complete or not yet.
public struct AnalyticsResultReply: WireMessage {
    public static let type = MessageType(rawValue: 0x0242)
    public var result: AnalyticsResult
    public init(result: AnalyticsResult) { self.result = result }
}

/// The Director's answer to an Envoy's request for work when a query is waiting for the site.
public struct AnalyticsTask: WireMessage {
    public static let type = MessageType(rawValue: 0x0243)
    public var id: String
    public var query: AnalyticsQuery
    public init(id: String, query: AnalyticsQuery) {
        self.id = id
        self.query = query
    }
}

/// A site's answer to query `id`: its cells, or, when it refuses the whole query, `refusal`.
public struct AnalyticsAnswer: WireMessage {
    public static let type = MessageType(rawValue: 0x0244)
    public var id: String
    public var cells: [ColumnSummary]
    public var refusal: String
    public init(id: String, cells: [ColumnSummary] = [], refusal: String = "") {
        self.id = id
        self.cells = cells
        self.refusal = refusal
    }
}

extension AnalyticsResultRequest: WireChecked {
    func check() throws(WireFieldError) { try WireFieldError.wait(maximumWaitSeconds, "maximumWaitSeconds") }
}

extension AnalyticsAnswer: WireChecked {
    func check() throws(WireFieldError) {
        try WireFieldError.count(cells.count, "cells", limit: AnalyticsLimits.maximumCells)
        try WireFieldError.require(refusal.utf8.count <= 4096, "refusal", "\(refusal.utf8.count) bytes")
    }
}
