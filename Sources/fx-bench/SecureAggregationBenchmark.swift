import Foundation
import FLCore

/// A round with secure aggregation against the same run's plain round: the no-op runner, 1M
/// parameters, N = 8 and 16 collaborators (issue 15). The secure round adds, per site, two key
/// pairs, its Shamir shares, the encoding, one AES-CTR mask per other site over the whole vector and
/// the reveal, and three more waits for the slowest site (keys, shares, masked inputs); at the
/// aggregator, the masked sum and the unmasking (the survivors' self masks).
///
/// On a shared 2-core machine one pair of runs varies by 2x, so plain and secure federations are
/// run alternately, three pairs, and the figure is the median of the pairs' ratios.
enum SecureAggregationBenchmark {
    static let rounds = 10
    static let parameters = 1_000_000
    static let pairs = 3

    static func run(_ report: BenchmarkReport) throws {
        for count in [8, 16] {
            let threshold = count / 2 + 1
            let settings = "    max_sample_count: 100\n    secure_aggregation: {threshold: \(threshold), clip_range: 1.0, bits: 32, weighting: samples}\n"
            var plain: [Double] = [], secure: [Double] = [], ratios: [Double] = [], peak = 0.0, plainPeak = 0.0
            for _ in 0..<pairs {
                let p = try RoundBenchmark.federation(collaborators: count, parameters: parameters, rounds: rounds)
                let s = try RoundBenchmark.federation(collaborators: count, parameters: parameters, rounds: rounds, settings: settings)
                plain.append(p.secondsPerRound * 1000)
                secure.append(s.secondsPerRound * 1000)
                ratios.append(s.secondsPerRound / p.secondsPerRound)
                peak = max(peak, s.aggregatorPeakBytes)
                plainPeak = max(plainPeak, p.aggregatorPeakBytes)
            }
            let ratio = median(ratios)
            let each = ratios.map { String(format: "%.2f", $0) }.joined(separator: ", ")
            report.add(BenchmarkFigure(name: "round_secure_aggregation_N\(count)_1M", value: median(secure), unit: "ms", reference: median(plain), ratio: ratio,
                                       target: count == 8 ? "ratio <= 3 (the same run's plain round)" : "none (noted)",
                                       met: count == 8 ? ratio <= 3 : nil,
                                       note: "median of \(pairs) alternating pairs (ratios \(each)); threshold \(threshold) of \(count); aggregator peak "
                                           + "\(Int(peak / 1_048_576)) MiB (plain \(Int(plainPeak / 1_048_576)) MiB)"))
        }
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }
}
