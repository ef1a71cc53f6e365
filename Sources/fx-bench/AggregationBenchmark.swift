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
    }

    @inline(never)
    static func addLoop(_ x: UnsafeBufferPointer<Float>, _ y: UnsafeMutableBufferPointer<Float>) {
        for i in 0..<y.count { y[i] += x[i] }
    }
}
