import Foundation
import FLCore
import FLRoles

/// FedAvg folding updates into its running sum, against a plain loop over the same memory in the
/// same run: `y[i] += x[i]`, which reads and writes exactly what aggregation must (FedAvg reads the
/// sum and the update and writes the new sum over the update, checking that it is finite).
enum AggregationBenchmark {
    static func run(_ report: BenchmarkReport) throws {
        let count = 10_000_000  // 40 MB per model: far larger than any cache
        let updates = 8
        let layout = try ModelLayout([TensorSpec(name: "w", shape: [count])])
        let update = (0..<count).map { Float($0 % 1000) * 0.001 }
        // The buffer an update is received into; FedAvg uses it as scratch and hands back another.
        var staging = [Float](repeating: 0, count: count)
        let fedavg = FedAvg(layout: layout)
        var global = ModelState(zeros: layout)
        var best = 0.0
        for _ in 0..<3 {
            // Timed: begin, the adds and finish; not the refills, which stand for receiving the update.
            var seconds = 0.0
            var start = RoundBenchmark.monotonicSeconds()
            fedavg.begin(global: global)
            for i in 0..<updates {
                seconds += RoundBenchmark.monotonicSeconds() - start
                staging.withUnsafeMutableBufferPointer { s in update.withUnsafeBufferPointer { _ = s.update(fromContentsOf: $0) } }
                start = RoundBenchmark.monotonicSeconds()
                guard fedavg.add(&staging, weight: Double(i + 1)) == .added else { throw BenchError("FedAvg refused a finite update") }
            }
            fedavg.finish(into: &global)
            seconds += RoundBenchmark.monotonicSeconds() - start
            best = max(best, Double(updates * count * 4) / seconds)
        }
        // The reference loop over the same sizes: one accumulator, `updates` passes.
        var sum = [Float](repeating: 0, count: count)
        var reference = 0.0
        for _ in 0..<3 {
            let start = RoundBenchmark.monotonicSeconds()
            sum.withUnsafeMutableBufferPointer { y in
                update.withUnsafeBufferPointer { x in
                    for _ in 0..<updates { addLoop(x, y) }
                }
            }
            let seconds = RoundBenchmark.monotonicSeconds() - start
            reference = max(reference, Double(updates * count * 4) / seconds)
        }
        let ratio = best / reference
        report.add(BenchmarkFigure(name: "fedavg_throughput_10M_params_8_updates", value: best / 1e9, unit: "GB/s", reference: reference / 1e9,
                                   ratio: ratio, target: "ratio >= 0.5 of a y += x loop over the same memory", met: ratio >= 0.5,
                                   note: "GB/s of update data folded, including begin and finish; checksum \(global.values[count - 1])"))
        try runRobust(report)
    }

    /// Seconds of one round (begin, `updates` adds, finish) of `function`, best of `repeats`; the
    /// updates differ (each is `update` scaled), so the sorting rules see realistic spreads.
    static func roundSeconds(_ settings: AggregationSettings, updates: Int, count: Int, repeats: Int = 2) throws -> Double {
        let layout = try ModelLayout([TensorSpec(name: "w", shape: [count])])
        let function = try settings.make(layout: layout)
        var global = ModelState(zeros: layout)
        var staging = [Float](repeating: 0, count: count)
        var best = Double.infinity
        for _ in 0..<repeats {
            var seconds = 0.0
            var start = RoundBenchmark.monotonicSeconds()
            function.begin(global: global)
            for u in 0..<updates {
                seconds += RoundBenchmark.monotonicSeconds() - start
                let scale = Float(u + 1) * 0.1
                staging.withUnsafeMutableBufferPointer { s in
                    for i in 0..<count { s[i] = Float(i % 1000) * 0.001 * scale - 0.05 }
                }
                start = RoundBenchmark.monotonicSeconds()
                guard function.add(&staging, weight: Double(u + 1)) == .added else { throw BenchError("\(settings.function) refused a finite update") }
            }
            function.finish(into: &global)
            seconds += RoundBenchmark.monotonicSeconds() - start
            best = min(best, seconds)
        }
        return best
    }

    /// The rules that keep every update, against FedAvg in the same run: N = 8, 10M parameters for
    /// median and trimmed mean; Krum's time for N = 16.
    static func runRobust(_ report: BenchmarkReport) throws {
        let count = 10_000_000
        let fedavg = try roundSeconds(AggregationSettings(function: "fedavg"), updates: 8, count: count)
        for function in ["median", "trimmed_mean"] {
            let seconds = try roundSeconds(AggregationSettings(function: function), updates: 8, count: count)
            report.add(BenchmarkFigure(name: "\(function)_round_10M_params_8_updates", value: seconds * 1000, unit: "ms", reference: fedavg * 1000,
                                       ratio: seconds / fedavg, target: "info", met: nil,
                                       note: "begin, 8 adds and finish, against FedAvg's round in this run (ratio: times as long); keeps 8 × 40 MB"))
        }
        let fedavg16 = try roundSeconds(AggregationSettings(function: "fedavg"), updates: 16, count: count, repeats: 1)
        let krum = try roundSeconds(AggregationSettings(function: "krum", krumF: 3), updates: 16, count: count, repeats: 1)
        report.add(BenchmarkFigure(name: "krum_round_10M_params_16_updates", value: krum * 1000, unit: "ms", reference: fedavg16 * 1000,
                                   ratio: krum / fedavg16, target: "info", met: nil,
                                   note: "120 pairwise distances over 40 MB models, against FedAvg's round of 16 in this run; keeps 16 × 40 MB"))
    }

    @inline(never)
    static func addLoop(_ x: UnsafeBufferPointer<Float>, _ y: UnsafeMutableBufferPointer<Float>) {
        for i in 0..<y.count { y[i] += x[i] }
    }
}
