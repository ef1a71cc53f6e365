import Testing
import FLCore
@testable import FLRoles
import FLWire

/// The Director's bookkeeping of queries, without sockets: who is asked, who may answer, when a
/// query is complete.
@Suite struct AnalyticsLedgerTests {
    static let query = AnalyticsQuery(columns: ["x"], deadlineSeconds: 5)

    func cell(_ values: [Double]) -> ColumnSummary {
        var m = RunningMoments()
        for v in values { m.add(v) }
        return ColumnSummary(column: "x", label: nil, moments: m)
    }

    /// `taken`, `completed` (taken, and the query complete) or `refused`.
    func kind(_ outcome: AnalyticsLedger.Outcome) -> String {
        switch outcome {
        case .taken(nil): "taken"
        case .taken: "completed"
        case .refused: "refused"
        }
    }

    func completed(_ outcome: AnalyticsLedger.Outcome) -> AnalyticsResult? {
        switch outcome {
        case let .taken(result), let .refused(_, result): result
        }
    }

    @Test func eachSiteGetsTheTaskOnceAndAnswersOnce() {
        var ledger = AnalyticsLedger()
        _ = ledger.open(id: "q1", query: Self.query, submittedBy: "alice", at: 1, sites: ["b", "a"])
        let task = ledger.takeTask(for: "a")
        #expect(task?.id == "q1" && task?.query == Self.query)
        #expect(ledger.takeTask(for: "a") == nil)
        #expect(ledger.takeTask(for: "c") == nil)
        // Not asked; asked but not sent the task yet; then a proper answer and a second one.
        #expect(kind(ledger.accept(AnalyticsAnswer(id: "q1", cells: [cell([1])]), from: "c", problem: nil, at: 2)) == "refused")
        #expect(kind(ledger.accept(AnalyticsAnswer(id: "q1", cells: [cell([1])]), from: "b", problem: nil, at: 2)) == "refused")
        #expect(kind(ledger.accept(AnalyticsAnswer(id: "q1", cells: [cell([1, 2])]), from: "a", problem: nil, at: 2)) == "taken")
        #expect(kind(ledger.accept(AnalyticsAnswer(id: "q1", cells: [cell([1])]), from: "a", problem: nil, at: 2)) == "refused")
        #expect(ledger.result("q1")?.isComplete == false)
        // b gets the task with its next request for work, and its answer completes the query.
        #expect(ledger.takeTask(for: "b")?.id == "q1")
        let outcome = ledger.accept(AnalyticsAnswer(id: "q1", cells: [cell([3])]), from: "b", problem: nil, at: 3)
        #expect(kind(outcome) == "completed")
        guard let done = completed(outcome) else { return }
        #expect(done.finishedAt == 3)
        #expect(done.sites.map(\.state) == [.answered, .answered])
        #expect(done.cells.map(\.count) == [3])
        #expect(ledger.expire("q1", at: 9) == nil)
    }

    @Test func aRejectedAnswerCountsForNothingAndTheDeadlineListsTheSilent() {
        var ledger = AnalyticsLedger()
        _ = ledger.open(id: "q1", query: Self.query, submittedBy: "alice", at: 1, sites: ["a", "b", "c"])
        _ = ledger.takeTask(for: "a")
        _ = ledger.takeTask(for: "b")
        #expect(kind(ledger.accept(AnalyticsAnswer(id: "q1", cells: [cell([1])]), from: "a", problem: "count -1", at: 2)) == "refused")
        _ = ledger.accept(AnalyticsAnswer(id: "q1", cells: [cell([5, 6])]), from: "b", problem: nil, at: 2)
        let done = ledger.expire("q1", at: 6)
        #expect(done?.sites.map(\.state) == [.rejected, .answered, .missing])
        #expect(done?.sites[0].reason == "count -1")
        #expect(done?.cells.map(\.count) == [2])
        #expect(ledger.result("q1") == done)
    }
}
