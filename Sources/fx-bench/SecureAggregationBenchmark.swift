import Foundation
import FLCore

/// A round with secure aggregation against the same run's plain round: the no-op runner, 1M
/// parameters, N = 8 and 16 collaborators (issue 15). The secure round adds, per site, two key
/// pairs, its Shamir shares, one AES-CTR mask per other site over the whole vector and the
/// reveal; at the aggregator, the masked sum and the unmasking (the self masks of the survivors).
enum SecureAggregationBenchmark {
    static let rounds = 10
    static let parameters = 1_000_000

    static func run(_ report: BenchmarkReport) throws {
        for count in [8, 16] {
            let plain = try RoundBenchmark.federation(collaborators: count, parameters: parameters, rounds: rounds)
            let threshold = count / 2 + 1
            let settings = "    max_sample_count: 100\n    secure_aggregation: {threshold: \(threshold), clip_range: 1.0, bits: 32, weighting: samples}\n"
            let secure = try RoundBenchmark.federation(collaborators: count, parameters: parameters, rounds: rounds, settings: settings)
            let ratio = secure.secondsPerRound / plain.secondsPerRound
            let plainMS = String(format: "%.0f", plain.secondsPerRound * 1000)
            report.add(BenchmarkFigure(name: "round_secure_aggregation_N\(count)_1M", value: secure.secondsPerRound * 1000, unit: "ms",
                                       reference: plain.secondsPerRound * 1000, ratio: ratio,
                                       target: count == 8 ? "ratio <= 3 (the same run's plain round)" : "none (noted)",
                                       met: count == 8 ? ratio <= 3 : nil,
                                       note: "plain round \(plainMS) ms; threshold \(threshold) of \(count); aggregator peak "
                                           + "\(Int(secure.aggregatorPeakBytes / 1_048_576)) MiB (plain \(Int(plain.aggregatorPeakBytes / 1_048_576)) MiB)"))
        }
    }
}
