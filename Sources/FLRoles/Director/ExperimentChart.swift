import FLCore
import FLWire

/// The chart of an experiment's round-by-round metrics, shared by the dashboard and
/// `fx experiment plot`: one line per aggregated metric against the round number (1-based).
public enum ExperimentChart {
    /// Training rounds only: the final and best-model validations measure a model once more and
    /// are not rounds. A round run again after a restart counts once, with its last attempt.
    public static func chart(for x: ExperimentInfo, width: Double = 720, height: Double = 400) -> LineChart {
        var byRound: [Int: RoundInfo] = [:]
        for r in x.rounds where !r.finalValidation && !r.bestValidation { byRound[r.round] = r }
        let rounds = byRound.keys.sorted().map { byRound[$0]! }
        let names = Set(rounds.flatMap(\.metrics.keys)).sorted()
        let series = names.map { name in
            LineChart.Series(name: name, points: rounds.compactMap { r in
                r.metrics[name].map { LineChart.Point(x: Double(r.round + 1), y: $0) }
            })
        }
        let title = "\(x.name): \(x.status.rawValue), \(x.roundsCompleted)/\(x.roundsToTrain) rounds"
        return LineChart(title: title, xLabel: "round", yLabel: "metric value", series: series, width: width, height: height)
    }
}
