import Testing
import FLWire
@testable import FLRoles

/// The Envoy's reports kept while the Director is unreachable: the newest few, and a count of the rest.
@Suite struct UnsentReportsTests {
    private func report(_ launch: Int) -> SiteReport {
        SiteReport(experiment: "x", launch: launch, event: .collaboratorStarted)
    }

    @Test func keepsEverythingUpToItsCapacity() {
        var unsent = UnsentReports(capacity: 3)
        let drops = (0..<3).map { unsent.append(report($0)) }
        #expect(drops == [false, false, false])
        let (reports, dropped) = unsent.take()
        #expect(reports.map(\.launch) == [0, 1, 2])
        #expect(dropped == 0)
    }

    @Test func keepsTheNewestAndCountsTheDropped() {
        var unsent = UnsentReports(capacity: 3)
        // Only the first drop asks to be logged.
        let firstDrops = (0..<10).map { unsent.append(report($0)) }
        #expect(firstDrops == [false, false, false, true, false, false, false, false, false, false])
        let (reports, dropped) = unsent.take()
        #expect(reports.map(\.launch) == [7, 8, 9])
        #expect(dropped == 7)
    }

    @Test func takeStartsAfresh() {
        var unsent = UnsentReports(capacity: 2)
        for launch in 0..<5 { unsent.append(report(launch)) }
        _ = unsent.take()
        #expect(unsent.reports.isEmpty && unsent.dropped == 0)
        // A new outage logs its first drop again.
        let drops = (5..<8).map { unsent.append(report($0)) }
        #expect(drops == [false, false, true])
        let kept = unsent.take().reports.map(\.launch)
        #expect(kept == [6, 7])
    }
}
