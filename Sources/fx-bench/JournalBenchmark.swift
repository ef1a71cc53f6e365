import Foundation
import FLCore
import FLRoles
import FLTesting
import FLWire

/// The Director's state as experiments pile up (issue 14, "the Director's state scales"): the cost of
/// one state change (one experiment's record changed, as when a round closes) with 100 experiments
/// and with 10,000, through the Director's own path (`DirectorState` → `DirectorStore` → journal,
/// each change waited for until it is fsynced). A change's cost includes its share of the compactions:
/// a compaction (one snapshot of every experiment) timed at that size, spread over the changes the
/// store lets through between two compactions.
///
/// Target: 10,000 experiments cost at most 1.5 times what 100 cost, per change, in time and bytes.
/// A flat cost is a ratio of 1; what is left is one record's encoding and one fsync at both sizes,
/// plus the compaction share (a quarter of a record per change at most, by the store's rule: 4 lines
/// per experiment), and fsync times that wander by tens of percent between two windows on a shared
/// disk. Any work proportional to the number of experiments on the save path shows as a ratio near
/// 100 (the whole-list rewrite this replaced: its time is the reference row).
enum JournalBenchmark {
    static let largeCount = Int(ProcessInfo.processInfo.environment["BENCH_JOURNAL_EXPERIMENTS"] ?? "") ?? 10_000
    static let smallCount = 100
    static let window = Int(ProcessInfo.processInfo.environment["BENCH_JOURNAL_CHANGES"] ?? "") ?? 200

    struct Cost {
        /// Median time of one change, fsynced (seconds), and its share of a compaction.
        var change: Double
        var compactionShare: Double
        var bytes: Double
        var compactionBytesShare: Double
        var compaction: Double
        var interval: Int
        var total: Double { change + compactionShare }
        var totalBytes: Double { bytes + compactionBytesShare }
    }

    static func run(_ report: BenchmarkReport) throws {
        let directory = try TemporaryDirectory(prefix: "fx-bench-journal")
        let logger = Logger(label: "bench", sink: MemoryLogSink())
        var smallState = try DirectorStateHarness(stateDirectory: directory.appending("small"), logger: logger)
        var largeState = try DirectorStateHarness(stateDirectory: directory.appending("large"), logger: logger)
        try fill(&smallState, to: smallCount)
        try fill(&largeState, to: largeCount)
        let (smallWindow, largeWindow) = try alternate(&smallState, &largeState)
        let small = try cost(smallState, smallWindow)
        let large = try cost(largeState, largeWindow)
        let rewrite = try wholeListRewrite(count: largeCount, directory: directory)

        let timeRatio = large.total / small.total
        report.add(BenchmarkFigure(
            name: "journal: time per state change, \(largeCount) experiments", value: large.total * 1000, unit: "ms",
            reference: small.total * 1000, ratio: timeRatio, target: "ratio (vs \(smallCount) experiments) <= 1.5", met: timeRatio <= 1.5,
            note: "median of \(window) changes, each fsynced: \(ms(small.change)) ms at \(smallCount), \(ms(large.change)) ms at \(largeCount); "
                + "plus a compaction (\(ms(small.compaction)) ms, \(ms(large.compaction)) ms) spread over \(small.interval), \(large.interval) changes"))
        let bytesRatio = large.totalBytes / small.totalBytes
        report.add(BenchmarkFigure(
            name: "journal: bytes written per state change, \(largeCount) experiments", value: large.totalBytes, unit: "B",
            reference: small.totalBytes, ratio: bytesRatio, target: "ratio (vs \(smallCount) experiments) <= 1.5", met: bytesRatio <= 1.5,
            note: "the record's line: \(Int(small.bytes)) B, \(Int(large.bytes)) B; compaction share: \(Int(small.compactionBytesShare)) B, \(Int(large.compactionBytesShare)) B"))
        report.add(BenchmarkFigure(
            name: "journal: whole-list rewrite (before), \(largeCount) experiments", value: rewrite * 1000, unit: "ms",
            reference: large.total * 1000, ratio: rewrite / large.total, target: "(what each change cost before)", met: nil,
            note: "encode every record and write experiments.json atomically, as every change did before the journal"))
    }

    static func ms(_ seconds: Double) -> String { String(format: "%.3g", seconds * 1000) }

    /// A finished experiment's record, of the size a real one has (a few rounds of metrics, three sites).
    static func record(_ index: Int) -> ExperimentInfo {
        let sites = ["hospital_a", "hospital_b", "hospital_c"]
        let rounds = (0..<5).map { r in
            RoundInfo(round: r, finalValidation: false, attempt: 0, metrics: ["aggregated_model_validation/accuracy": 0.9, "train/loss": 0.2],
                      reported: sites, missing: [], duration: 0.5, best: r == 4)
        }
        return ExperimentInfo(name: String(format: "experiment-%05d", index), status: .succeeded, reason: "5 rounds",
                              archiveSHA256: String(repeating: "ab", count: 32), archiveSize: 10240, submittedBy: "alice",
                              submittedAt: 1_700_000_000 + Double(index), startedAt: 1_700_000_010, finishedAt: 1_700_000_100,
                              roundsToTrain: 5, roundsCompleted: 5, currentRound: -1, launches: 1, collaborators: sites,
                              bestMetric: "aggregated_model_validation/accuracy", bestValue: 0.9,
                              lastMetrics: ["aggregated_model_validation/accuracy": 0.9, "train/loss": 0.2], rounds: rounds,
                              sites: sites.map { SiteInfo(envoy: $0, state: .finished) }, version: 1)
    }

    /// Submits experiments (100 to a change, to build the state quickly) until there are `count`.
    static func fill(_ harness: inout DirectorStateHarness, to count: Int) throws {
        while harness.count < count {
            let start = harness.count
            harness.submit((start..<min(count, start + 100)).map(record))
        }
        harness.store.synchronize()
        if let problem = harness.store.problem { throw BenchError("the state could not be written: \(problem)") }
    }

    /// What a window of changes took: each change's time, and the bytes written in all.
    struct Window {
        var times: [Double] = []
        var bytes = 0
    }

    /// `window` changes of the newest experiment of each state, taken in turn so that both sizes see the
    /// same disk (fsync times wander with whatever else the machine writes); each change is waited
    /// for until it is on disk.
    static func alternate(_ small: inout DirectorStateHarness, _ large: inout DirectorStateHarness) throws -> (Window, Window) {
        // Both windows start from a fresh journal: no compaction falls inside them.
        try small.store.compact()
        try large.store.compact()
        let before = (small.store.written.bytes, large.store.written.bytes)
        var windows = (Window(), Window())
        for i in 0..<window {
            // Each goes first half the time: a sync right after another's may wait for the same commit.
            if i % 2 == 0 {
                windows.0.times.append(change(&small, i))
                windows.1.times.append(change(&large, i))
            } else {
                windows.1.times.append(change(&large, i))
                windows.0.times.append(change(&small, i))
            }
        }
        windows.0.bytes = small.store.written.bytes - before.0
        windows.1.bytes = large.store.written.bytes - before.1
        return windows
    }

    /// Changes the newest experiment (a round's metrics, as when one closes) and waits until it is written.
    static func change(_ harness: inout DirectorStateHarness, _ i: Int) -> Double {
        let name = String(format: "experiment-%05d", harness.count - 1)
        let started = Deadline.now
        harness.update(name) { x in
            x.lastMetrics["train/loss"] = 0.2 + Double(i % 10) / 100
            x.reason = "5 rounds (\(i % 10))"
        }
        harness.store.synchronize()
        return started.elapsedSeconds
    }

    /// The median change, the bytes of one, and the share of a compaction (timed now) each bears.
    static func cost(_ harness: DirectorStateHarness, _ measured: Window) throws -> Cost {
        if let problem = harness.store.problem { throw BenchError("the state could not be written: \(problem)") }
        let bytes = Double(measured.bytes) / Double(measured.times.count)
        let before = harness.store.written.bytes
        let started = Deadline.now
        try harness.store.compact()
        let compaction = started.elapsedSeconds
        let snapshotBytes = harness.store.written.bytes - before
        let interval = DirectorStateHarness.changesBetweenCompactions(experiments: harness.count, snapshotBytes: snapshotBytes, changeBytes: Int(bytes))
        let median = measured.times.sorted()[measured.times.count / 2]
        return Cost(change: median, compactionShare: compaction / Double(interval), bytes: bytes,
                    compactionBytesShare: Double(snapshotBytes) / Double(interval), compaction: compaction, interval: interval)
    }

    /// What one change cost before the journal: every record encoded and the whole file rewritten.
    static func wholeListRewrite(count: Int, directory: TemporaryDirectory) throws -> Double {
        let all = (0..<count).map(record)
        var best = Double.infinity
        for _ in 0..<3 {
            let started = Deadline.now
            try AtomicFile.write(try JSONCoding.encoder(.pretty).encode(all), to: directory.appending("experiments.json"))
            best = min(best, started.elapsedSeconds)
        }
        return best
    }
}
