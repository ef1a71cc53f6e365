import Foundation
import Synchronization
import FLCore
import FLRoles
import FLTesting
import FLWire

/// Two experiments on 8 Envoys (capacity 2 each), with the real aggregator and collaborator
/// executables: run one after the other (`experiments.max_concurrent: 1`), then at once
/// (`max_concurrent: 2`, put in force by a reload), on the same Director, Envoys and archive, in
/// the same run. Each mode runs twice, alternating, and its faster pair counts. Target: at once
/// takes at most 0.6 of one after the other.
enum ConcurrencyBenchmark {
    /// 20 rounds: each experiment's start (9 processes) is CPU on a 2-core machine and overlaps
    /// little; its rounds wait on the network and overlap well, as a real experiment's do.
    static let rounds = Int(ProcessInfo.processInfo.environment["BENCH_CONCURRENCY_ROUNDS"] ?? "") ?? 20

    /// `BENCH_LOG=1` shows the Director's and the Envoys' logs (where the time goes).
    static var logSink: any LogSink {
        ProcessInfo.processInfo.environment["BENCH_LOG"] != nil ? StandardErrorLogSink() : MemoryLogSink()
    }

    static func run(_ report: BenchmarkReport) throws {
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
        try Workspace(root: try fixture.makeWorkspace("bench", rounds: rounds)).export(to: archive)

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
        var oneAfterTheOther: [Double] = [], atOnce: [Double] = []
        for run in 0..<2 {
            oneAfterTheOther.append(try pair("sequential-\(run)", maximumConcurrent: 1))
            atOnce.append(try pair("concurrent-\(run)", maximumConcurrent: 2))
        }
        let sequential = oneAfterTheOther.min()!, concurrent = atOnce.min()!
        let ratio = concurrent / sequential
        let ms = { (seconds: [Double]) in seconds.map { Int(($0 * 1000).rounded()) } }
        report.add(BenchmarkFigure(name: "director_two_experiments_8_envoys_concurrent", value: concurrent * 1000, unit: "ms",
                                   reference: sequential * 1000, ratio: ratio, target: "ratio <= 0.6", met: ratio <= 0.6,
                                   note: "two experiments of \(rounds) rounds (breast cancer, built-in training) on 8 Envoys of capacity 2, "
                                       + "submitted together: at once (max_concurrent 2) against one after the other (max_concurrent 1), "
                                       + "same Director, Envoys and archive; faster of 2 pairs each. At once: \(ms(atOnce)) ms; "
                                       + "one after the other: \(ms(oneAfterTheOther)) ms"))
    }
}
