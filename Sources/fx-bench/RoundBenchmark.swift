#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FLCore
import FLTesting

/// Whole federations of separate processes on loopback with a no-op task (model + small offset), as
/// OpenFL's and Flower's were measured: milliseconds per round, start-up time, and the aggregator's
/// peak memory with many collaborators and a large model.
enum RoundBenchmark {
    /// Seconds per round quoted for the same no-op task (N=4, 1M parameters) on these machines.
    static let openFLRound = 9.2, flowerRound = 6.5

    static func run(_ report: BenchmarkReport) throws {
        let four = try federation(collaborators: 4, parameters: 1_000_000, rounds: 30)
        let reference = min(openFLRound, flowerRound)  // the faster of the two is the harder target
        let speedup = reference / four.secondsPerRound
        report.add(BenchmarkFigure(name: "round_ms_n4_1M_params", value: four.secondsPerRound * 1000, unit: "ms", reference: reference * 1000,
                                   ratio: speedup, target: ">= 100x faster than OpenFL 1.9 (9.2 s) and Flower 1.42 (6.5 s)",
                                   met: speedup >= 100, note: "ratio = Flower's 6.5 s / ours; OpenFL's 9.2 s gives \(Int(openFLRound / four.secondsPerRound))x"))
        report.add(BenchmarkFigure(name: "aggregator_start_to_first_round_tasks", value: four.startSeconds * 1000, unit: "ms", reference: nil, ratio: nil,
                                   target: "< 300 ms (OpenFL 2-5 s, Flower 4-5 s)", met: four.startSeconds < 0.3,
                                   note: "process spawn to round 1 open (its tasks are handed out from then on)"))
        let eight = try federation(collaborators: 8, parameters: 100_000, rounds: 30)
        report.add(BenchmarkFigure(name: "round_ms_n8_100k_params", value: eight.secondsPerRound * 1000, unit: "ms", reference: flowerRound * 1000,
                                   ratio: flowerRound / eight.secondsPerRound, target: ">= 100x faster than the references",
                                   met: flowerRound / eight.secondsPerRound >= 100, note: nil))
        let big = try federation(collaborators: 16, parameters: 10_000_000, rounds: 3)
        let modelBytes = 40_000_000.0
        let limit = 3 * modelBytes + 64 * 1_048_576
        report.add(BenchmarkFigure(name: "aggregator_peak_rss_n16_10M_params", value: big.aggregatorPeakBytes / 1_048_576, unit: "MiB",
                                   reference: limit / 1_048_576, ratio: big.aggregatorPeakBytes / modelBytes,
                                   target: "< 3 x model size + 64 MiB (OpenFL and Flower: 1.3 GB for N=2)", met: big.aggregatorPeakBytes < limit,
                                   note: "ratio = peak RSS / model size (40 MB); \(String(format: "%.0f", big.secondsPerRound * 1000)) ms per round"))
    }

    struct Result {
        var secondsPerRound: Double
        var startSeconds: Double
        var aggregatorPeakBytes: Double
    }

    /// `settings`: more lines for `aggregator.settings` (indented four spaces, each ending in a newline).
    static func plan(rounds: Int, parameters: Int, settings: String = "") -> String {
        """
        aggregator:
          defaults: defaults/aggregator.yaml
          settings:
            rounds_to_train: \(rounds)
            final_validation: false
        \(settings)collaborator:
          defaults: defaults/collaborator.yaml
        data_loader:
          defaults: defaults/data_loader.yaml
        task_runner:
          template: noop
          settings:
            parameters: \(parameters)
        network:
          defaults: defaults/network.yaml
        assigner:
          defaults: defaults/assigner.yaml
        tasks:
          defaults: defaults/tasks.yaml

        """
    }

    static func federation(collaborators count: Int, parameters: Int, rounds: Int, settings: String = "") throws -> Result {
        let names = (1...count).map { "site_\($0)" }
        let fixture = try FederationFixture(template: "breast_cancer", collaborators: names)
        try fixture.write("plan/plan.yaml", plan(rounds: rounds, parameters: parameters, settings: settings))
        try fixture.write("plan/cols.yaml", "collaborators:\n" + names.map { "  - \($0)\n" }.joined())
        try fixture.initialize()
        let spawned = monotonicSeconds()
        let (aggregator, port) = try fixture.startAggregator()
        var collaborators: [ProcessUnderTest] = []
        for name in names { collaborators.append(try fixture.startCollaborator(name, port: port)) }
        // The kernel keeps the aggregator's high-water mark (VmHWM): the last reading before it exits holds the peak.
        var peak = 0.0
        let deadline = monotonicSeconds() + 600
        while aggregator.process.wait(timeout: 0.02) == nil && monotonicSeconds() < deadline {
            if let usage = ResourceUsage.of(pid: aggregator.process.pid) { peak = max(peak, Double(usage.peakResidentBytes)) }
        }
        let status = try aggregator.waitForExit(timeout: 1)
        guard status.isSuccess else { throw BenchError("aggregator \(status): \(aggregator.errorTail())") }
        for c in collaborators { try c.waitForExit(timeout: 60) }
        let lines = aggregator.timedOutputLines
        guard let opened = lines.first(where: { $0.line.contains("\"event\":\"round_started\"") }) else { throw BenchError("no round started") }
        let closes = lines.filter { $0.line.contains("\"event\":\"round_closed\"") }.map(\.time)
        guard closes.count == rounds, rounds >= 2 else { throw BenchError("saw \(closes.count) of \(rounds) rounds") }
        // From the first round's close to the last one's: every round in between started with everyone connected.
        let perRound = (closes.last! - closes.first!) / Double(rounds - 1)
        return Result(secondsPerRound: perRound, startSeconds: opened.time - spawned, aggregatorPeakBytes: peak)
    }

    static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
