import Foundation
import Testing
import FLCore
import FLWire
@testable import FLRoles

/// An experiment's rounds become one series per metric, against 1-based round numbers; the final
/// and best-model validations are left out and a round run again counts with its last attempt.
@Suite struct ExperimentChartTests {
    static func round(_ r: Int, attempt: Int = 0, final: Bool = false, best: Bool = false, _ metrics: [String: Double]) -> RoundInfo {
        RoundInfo(round: r, finalValidation: final, attempt: attempt, metrics: metrics, reported: ["a"], missing: [], duration: 1,
                  best: false, bestValidation: best)
    }

    @Test func oneSeriesPerMetricAgainstRounds() {
        let rounds = [
            Self.round(0, ["train/loss": 0.7, "val/accuracy": 0.6]),
            Self.round(1, ["train/loss": 0.5, "val/accuracy": 0.8]),
            Self.round(1, attempt: 1, ["train/loss": 0.4, "val/accuracy": 0.85]),
            Self.round(2, ["train/loss": 0.3]),
            Self.round(3, final: true, ["val/accuracy": 0.9]),
            Self.round(3, best: true, ["val/accuracy": 0.91]),
        ]
        let x = ExperimentInfo(name: "demo", status: .running, archiveSHA256: "", archiveSize: 0, submittedBy: "alice", submittedAt: 0,
                               roundsToTrain: 3, roundsCompleted: 3, rounds: rounds)
        let chart = ExperimentChart.chart(for: x)
        #expect(chart.series.map(\.name) == ["train/loss", "val/accuracy"])
        #expect(chart.series[0].points == [.init(x: 1, y: 0.7), .init(x: 2, y: 0.4), .init(x: 3, y: 0.3)])
        #expect(chart.series[1].points == [.init(x: 1, y: 0.6), .init(x: 2, y: 0.85)])
        #expect(chart.title == "demo: running, 3/3 rounds")
    }
}
