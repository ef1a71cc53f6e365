import Foundation
import Synchronization
import FLCore
import FLRoles
import FLTesting
import FLWire

/// Two experiments on 8 Envoys (capacity 2 each), with the real aggregator and collaborator
/// executables: run one after the other (`experiments.max_concurrent: 1`), then at once
/// (`max_concurrent: 2`, put in force by a reload), on the same Director, Envoys and archive, in
/// the same run. Each mode runs twice, alternating, and its faster pair counts.
///
/// The target (at once takes at most 0.6 of one after the other) is about sites that compute on
/// machines of their own: their training takes wall time but none of the Director's CPU, so two
/// experiments' rounds can overlap. Here all 8 sites, the Director and both aggregators share one
/// machine of 2 cores, so the target figure simulates that compute (`concurrency`: the noop
/// runner's `seconds_per_task`, a sleep), and everything else (processes, TLS, transfers of a
/// 100,000-parameter model, aggregation, scheduling) is real. The same two experiments with
/// SwiftFL's own training on this machine (`concurrency-cpu`) are reported for information: there
/// every step of every round is this machine's CPU, so they overlap only as far as 2 cores allow,
/// and their ratio swings with whatever else runs on it.
enum ConcurrencyBenchmark {
    /// Rounds of the simulated-compute experiments.
    static let rounds = Int(ProcessInfo.processInfo.environment["BENCH_CONCURRENCY_ROUNDS"] ?? "") ?? 10
    /// Each task's simulated compute: with 3 tasks a round (validation, training, validation), 0.45 s a round.
    static let secondsPerTask = 0.15
    static let parameters = 100_000
    /// Rounds of the built-in-training experiments (their rounds take milliseconds).
    static let cpuBoundRounds = 20

    /// `BENCH_LOG=1` shows the Director's and the Envoys' logs (where the time goes).
    static var logSink: any LogSink {
        ProcessInfo.processInfo.environment["BENCH_LOG"] != nil ? StandardErrorLogSink() : MemoryLogSink()
    }

    /// The target figure: sites whose compute is simulated (the noop runner's `seconds_per_task`).
    static func run(_ report: BenchmarkReport) throws {
        let m = try measure { fixture in
            try fixture.makeNoopWorkspace("bench", rounds: rounds, parameters: parameters, secondsPerTask: secondsPerTask)
        }
        report.add(BenchmarkFigure(name: "director_two_experiments_8_envoys_concurrent", value: m.concurrent * 1000, unit: "ms",
                                   reference: m.sequential * 1000, ratio: m.ratio, target: "ratio <= 0.6", met: m.ratio <= 0.6,
                                   note: "two experiments of \(rounds) rounds on 8 Envoys of capacity 2, submitted together: at once (max_concurrent 2) "
                                       + "against one after the other (max_concurrent 1), same Director, Envoys and archive; faster of 2 pairs each. "
                                       + "Simulated: each site's compute, as sites on machines of their own (noop runner, \(parameters) parameters, "
                                       + "every task sleeps seconds_per_task \(secondsPerTask) s, 3 tasks a round), since 8 sites training on this "
                                       + "machine's 2 cores cannot overlap; real: the processes, TLS, transfers, aggregation and scheduling. "
                                       + "At once: \(m.atOnceText) ms; one after the other: \(m.oneAfterTheOtherText) ms"))
    }

    /// For information: the same comparison with SwiftFL's own training, every party on this machine.
    static func runCPUBound(_ report: BenchmarkReport) throws {
        let m = try measure { fixture in try fixture.makeWorkspace("bench", rounds: cpuBoundRounds) }
        report.add(BenchmarkFigure(name: "director_two_experiments_8_envoys_builtin_training_cpu_bound", value: m.concurrent * 1000, unit: "ms",
                                   reference: m.sequential * 1000, ratio: m.ratio, target: "info",
                                   note: "the same comparison with two experiments of \(cpuBoundRounds) rounds of built-in training (breast cancer), "
                                       + "the 16 collaborators, 2 aggregators and Director all on this machine's 2 cores: every step of a round is "
                                       + "this machine's CPU, so the ratio says how two experiments share 2 cores (and, while other programs run, "
                                       + "how large a share of them 18 processes win over 9), not how sites computing apart overlap. At once: \(m.atOnceText) ms; "
                                       + "one after the other: \(m.oneAfterTheOtherText) ms"))
    }

    /// Seconds for each pair of experiments, one after the other and at once.
    struct Measurement {
        var oneAfterTheOther: [Double]
        var atOnce: [Double]
        var sequential: Double { oneAfterTheOther.min()! }
        var concurrent: Double { atOnce.min()! }
        var ratio: Double { concurrent / sequential }
        var atOnceText: String { "\(atOnce.map { Int(($0 * 1000).rounded()) })" }
        var oneAfterTheOtherText: String { "\(oneAfterTheOther.map { Int(($0 * 1000).rounded()) })" }
    }

    /// Starts a Director and 8 Envoys, exports the workspace `workspace` makes, and times two of
    /// its experiments submitted together, twice in each mode, alternating.
    static func measure(workspace: (DirectorFixture) throws -> String) throws -> Measurement {
        guard ChildProcess.siblingExecutable("fx-aggregator") != nil, ChildProcess.siblingExecutable("fx-collaborator") != nil else {
            throw BenchError("fx-aggregator and fx-collaborator must be built beside fx-bench (swift build -c release)")
        }
        let sites = (1...8).map { "site_\($0)" }
        let fixture = try DirectorFixture(envoys: sites, heartbeatPeriod: 1)
        try fixture.configureConcurrency(maximumConcurrent: 1, minimumEnvoys: sites.count)
        for site in sites { try fixture.setCapacity(2, of: site) }
        let settings = try DirectorSettings.load(path: fixture.directorConfigurationPath)
        let finished = Mutex<[String: ExperimentStatus]>([:])
        let changed = NSCondition()
        let director = try Director(settings: settings, logger: Logger(label: "director", sink: logSink)) { event in
            if case let .experimentFinished(name, status, _) = event { finished.withLock { $0[name] = status } }
            changed.lock()
            changed.broadcast()
            changed.unlock()
        }
        let port = try director.start()
        defer { director.stop() }
        let envoys = InProcessEnvoys(fixture: fixture, port: port)
        defer { envoys.stopAll() }
        for name in sites { try envoys.start(name, logger: Logger(label: name, sink: logSink)) }
        let client = try DirectorClient(director: Endpoint(host: "127.0.0.1", port: port),
                                        tls: TLSConfiguration(certificateDirectory: fixture.userCertificateDirectory("alice"), name: "alice"))
        let online = Deadline.after(seconds: 60)
        while client.envoysOnline() < sites.count {
            if online.hasPassed { throw BenchError("the 8 Envoys did not register within 60 s") }
            changed.lock()
            _ = changed.wait(until: Date().addingTimeInterval(0.05))
            changed.unlock()
        }
        let archive = fixture.directory.appending("bench.tar")
        try Workspace(root: try workspace(fixture)).export(to: archive)

        /// Submits two experiments at once and returns the seconds until both have succeeded.
        func pair(_ tag: String, maximumConcurrent: Int) throws -> Double {
            var reloaded = settings
            reloaded.maximumConcurrent = maximumConcurrent
            director.reload(reloaded)
            let names = ["\(tag)-a", "\(tag)-b"]
            let start = Deadline.now
            for name in names { _ = try client.submit(archive: archive, name: name) }
            let end = Deadline.after(seconds: 300)
            while finished.withLock({ f in names.contains { f[$0] == nil } }) {
                if end.hasPassed { throw BenchError("\(names.joined(separator: " and ")) did not finish within 300 s") }
                changed.lock()
                _ = changed.wait(until: Date().addingTimeInterval(0.05))
                changed.unlock()
            }
            let elapsed = Double(Deadline.now.uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
            for name in names where finished.withLock({ $0[name] }) != .succeeded {
                throw BenchError("experiment \(name) did not succeed: \(try client.status(name).reason)")
            }
            return elapsed
        }
        var m = Measurement(oneAfterTheOther: [], atOnce: [])
        for run in 0..<2 {
            m.oneAfterTheOther.append(try pair("sequential-\(run)", maximumConcurrent: 1))
            m.atOnce.append(try pair("concurrent-\(run)", maximumConcurrent: 2))
        }
        return m
    }
}
