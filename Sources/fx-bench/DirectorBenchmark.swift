#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import FLCore
import FLRoles
import FLTesting
import FLWire
import FLPKI

/// The Director's figures: (1) a Director (in a child process of its own, so its CPU and memory
/// are its own) holding 10,000 Envoy connections (`BENCH_ENVOYS`) that heartbeat every second, each
/// also holding a long-poll for work as a real Envoy does, measured over 30 s — the Envoys simulated
/// in another child (`SimulatedEnvoys`); (2) the time from `submit` to the first round on three
/// Envoys, with the real aggregator and collaborator executables.
enum DirectorBenchmark {
    static let envoyCount = Int(ProcessInfo.processInfo.environment["BENCH_ENVOYS"] ?? "") ?? 10_000
    static let window = Double(ProcessInfo.processInfo.environment["BENCH_DIRECTOR_SECONDS"] ?? "") ?? 30

    static func run(_ report: BenchmarkReport) throws {
        try heartbeats(report)
        try submitToFirstRound(report)
    }

    // MARK: 10,000 Envoys heartbeating

    static func heartbeats(_ report: BenchmarkReport) throws {
        let directory = try TemporaryDirectory(prefix: "fx-bench-director")
        let (certs, parts, issueSeconds) = try issueCertificates(directory)
        // The transport alone first (unless BENCH_DIRECTOR_ONLY=1): a server whose handler costs next to nothing, then the Director.
        if ProcessInfo.processInfo.environment["BENCH_DIRECTOR_ONLY"] != "1" {
            try transportHeartbeats(report, certs: certs, parts: parts)
        }
        if ProcessInfo.processInfo.environment["BENCH_TRANSPORT_ONLY"] == "1" { return }
        try directorHeartbeats(report, directory: directory, certs: certs, parts: parts, issueSeconds: issueSeconds)
    }

    /// The CA, the Director's and the operator's certificates, and one per Envoy; the seconds it took.
    static func issueCertificates(_ directory: TemporaryDirectory) throws -> (certs: String, parts: Int, seconds: Double) {
        let started = Deadline.now
        let authority = try CertificateAuthority.create(directory: directory.appending("ca"))
        let certs = directory.appending("cert")
        _ = try authority.certify(name: "director", hosts: ["127.0.0.1"], role: .director, directory: certs)
        _ = try authority.certify(name: "operator", role: .admin, directory: certs)
        let names = SimulatedEnvoys.names(envoyCount)
        // Issuing ten thousand certificates is the slow part of the set-up: spread over the cores.
        let parts = max(2, ProcessInfo.processInfo.activeProcessorCount)
        let issueFailures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            for i in stride(from: part, to: names.count, by: parts) {
                // A folder per thread: every call also rewrites its folder's copy of ca.crt, which two threads would trip over.
                do {
                    _ = try authority.certify(name: names[i], role: .envoy, directory: SimulatedEnvoys.folder(certs, i, of: parts))
                } catch {
                    FileHandle.standardError.write(Data("fx-bench: certificate for \(names[i]): \(error)\n".utf8))
                    issueFailures.add(1, ordering: .relaxed)
                }
            }
        }
        guard issueFailures.load(ordering: .relaxed) == 0 else { throw BenchError("\(issueFailures.load(ordering: .relaxed)) certificates could not be issued") }
        return (certs, parts, started.elapsedSeconds)
    }

    /// Starts the simulated Envoys against `port` and waits until every one has registered.
    static func startEnvoys(port: Int, certs: String, parts: Int) throws -> (ChildProcess, LineFollower, Double) {
        let connectStart = Deadline.now
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let envoys = try ChildProcess(executable: exe, arguments: ["child", "envoys", certs, "\(port)", "\(envoyCount)", "\(parts)"],
                                      standardOutput: .pipe)
        let lines = LineFollower(envoys.standardOutput!)
        guard let ready = lines.wait(forPrefix: "ready ", timeout: 900) else {
            envoys.kill()
            throw BenchError("the simulated Envoys did not register within 900 s")
        }
        let registered = Int(ready.split(separator: " ")[1]) ?? 0
        guard registered == envoyCount else {
            envoys.kill()
            throw BenchError("only \(registered) of \(envoyCount) Envoys registered")
        }
        return (envoys, lines, connectStart.elapsedSeconds)
    }

    /// `HeartbeatServer` (FrameServer and a handler that costs next to nothing) under the same load.
    static func transportHeartbeats(_ report: BenchmarkReport, certs: String, parts: Int) throws {
        let server = try BenchChild.start(["heartbeat-server", certs])
        defer { server.process.kill() }
        let serverLines = LineFollower(server.process.standardOutput!)
        let (envoys, lines, connectSeconds) = try startEnvoys(port: server.port, certs: certs, parts: parts)
        defer { envoys.kill() }
        let pace = DispatchSemaphore(value: 0)
        _ = pace.wait(timeout: .now() + 3)  // pacing, not synchronisation: nothing signals it
        guard let before = ResourceUsage.of(pid: server.process.pid) else { throw BenchError("the heartbeat server is gone") }
        let beatsBefore = lines.latestBeats
        let measureStart = Deadline.now
        serverLines.clear()
        _ = pace.wait(timeout: .now() + window)
        let elapsed = measureStart.elapsedSeconds
        guard let after = ResourceUsage.of(pid: server.process.pid) else { throw BenchError("the heartbeat server is gone") }
        let beats = lines.latestBeats.ok - beatsBefore.ok
        let online = serverLines.all(prefixed: "online ").compactMap { Int($0.dropFirst(7)) }
        let cpu = (after.cpuSeconds - before.cpuSeconds) / elapsed * 100
        let threads = ResourceUsage.threadCount(pid: server.process.pid).map(String.init) ?? "?"
        let mode = ProcessInfo.processInfo.environment["BENCH_HEARTBEAT_ON_LOOP"] == "1" ? "on the loop" : "on handler threads"
        report.add(BenchmarkFigure(name: "frameserver_\(envoyCount)_envoys_heartbeat_cpu", value: cpu, unit: "% of a core", reference: nil, ratio: nil,
                                   target: "< 100%", met: cpu < 100 && (online.min() ?? 0) == envoyCount,
                                   note: "the transport alone (HeartbeatServer, heartbeats \(mode)): \(beats) heartbeats answered in "
                                       + "\(String(format: "%.1f", elapsed)) s, Envoys heard from in the last 3 s at least \(online.min() ?? 0) "
                                       + "(each second of the window), threads \(threads), peak RSS "
                                       + "\(String(format: "%.1f", Double(after.peakResidentBytes) / 1048576)) MiB, connect+register \(String(format: "%.1f", connectSeconds)) s"))
    }

    static func directorHeartbeats(_ report: BenchmarkReport, directory: TemporaryDirectory, certs: String, parts: Int, issueSeconds: Double) throws {
        let names = SimulatedEnvoys.names(envoyCount)
        let director = try BenchChild.start(["director", certs, directory.appending("state")])
        defer { director.process.kill() }

        // The Envoys, in a child of their own: a few epoll threads, no thread per Envoy.
        let (envoys, lines, connectSeconds) = try startEnvoys(port: director.port, certs: certs, parts: parts)
        defer { envoys.kill() }

        // Warm up for 3 s, then measure the Director over the window, asking it who is online six times.
        let pace = DispatchSemaphore(value: 0)
        _ = pace.wait(timeout: .now() + 3)  // pacing, not synchronisation: nothing signals it
        let operatorClient = try DirectorClient(director: Endpoint(host: "127.0.0.1", port: director.port),
                                                tls: TLSConfiguration(certificateDirectory: certs, name: "operator"), timeout: 10)
        guard let before = ResourceUsage.of(pid: director.process.pid) else { throw BenchError("the Director child is gone") }
        let beatsBefore = lines.latestBeats
        let measureStart = Deadline.now
        var online: [Int] = []
        for sample in 1...6 {
            let at = Deadline(uptimeNanoseconds: measureStart.uptimeNanoseconds + UInt64(window * Double(sample) / 6 * 1e9))
            _ = pace.wait(timeout: .now() + at.remainingSeconds)
            // A Director too busy to answer within the call's timeout shows no one online.
            online.append((try? operatorClient.envoys().envoys.filter(\.online).count) ?? 0)
        }
        let elapsed = measureStart.elapsedSeconds
        guard let after = ResourceUsage.of(pid: director.process.pid) else { throw BenchError("the Director child is gone") }
        let beatsAfter = lines.latestBeats
        let cpu = (after.cpuSeconds - before.cpuSeconds) / elapsed * 100
        let threads = ResourceUsage.threadCount(pid: director.process.pid).map(String.init) ?? "?"
        let minimum = online.min() ?? 0

        let beats = beatsAfter.ok - beatsBefore.ok, failed = beatsAfter.failed - beatsBefore.failed
        let note = "\(names.count) simulated Envoys (one child process, \(SimulatedEnvoys.threads) epoll threads), \(beats) heartbeats answered in "
            + "\(String(format: "%.1f", elapsed)) s (\(failed) refused, \(beatsAfter.lost) connections lost), each with a long-poll held; "
            + "online \(online.map(String.init).joined(separator: ", ")) (6 samples); Director threads \(threads); set-up: certificates "
            + "\(String(format: "%.1f", issueSeconds)) s over \(parts) threads, connect+register \(String(format: "%.1f", connectSeconds)) s"
        report.add(BenchmarkFigure(name: "director_\(names.count)_envoys_heartbeat_cpu", value: cpu, unit: "% of a core", reference: nil, ratio: nil,
                                   target: "< 100%", met: cpu < 100, note: note))
        report.add(BenchmarkFigure(name: "director_\(names.count)_envoys_online_minimum", value: Double(minimum), unit: "Envoys", reference: nil,
                                   ratio: nil, target: "all \(names.count)", met: minimum == names.count,
                                   note: "the fewest shown online by `envoys()` in 6 samples over the \(Int(window)) s window"))
        let peak = Double(after.peakResidentBytes) / 1048576
        report.add(BenchmarkFigure(name: "director_\(names.count)_envoys_peak_rss", value: peak, unit: "MiB", reference: nil, ratio: nil,
                                   target: "< 1024 MiB", met: peak < 1024,
                                   note: "resident at the end \(String(format: "%.1f", Double(after.residentBytes) / 1048576)) MiB"))
    }

    /// The Director side of the heartbeat figure, in a child process: listens, then parks.
    static func directorChild(_ args: [String]) throws -> Never {
        let settings = DirectorSettings(port: 0, sampleShape: [30], targetShape: [1], heartbeatPeriod: 1, startupGrace: 0,
                                        stateDirectory: args[1], certificateDirectory: args[0], aggregatorExecutable: "/bin/false")
        let director = try Director(settings: settings, logger: Logger(label: "director", sink: MemoryLogSink(), minimumLevel: .error))
        BenchChild.announce(port: try director.start())
    }

    // MARK: submit → first round

    static func submitToFirstRound(_ report: BenchmarkReport) throws {
        guard ChildProcess.siblingExecutable("fx-aggregator") != nil, ChildProcess.siblingExecutable("fx-collaborator") != nil else {
            throw BenchError("fx-aggregator and fx-collaborator must be built beside fx-bench (swift build -c release)")
        }
        let fixture = try DirectorFixture(heartbeatPeriod: 1)
        let settings = try DirectorSettings.load(path: fixture.directorConfigurationPath)
        let times = Mutex<[String: (started: Deadline?, firstRound: Deadline?, finished: Deadline?)]>([:])
        let changed = NSCondition()
        let director = try Director(settings: settings, logger: Logger(label: "director", sink: MemoryLogSink())) { event in
            let now = Deadline.now
            times.withLock { t in
                switch event {
                case let .experimentStarted(name, _, _, _): t[name, default: (nil, nil, nil)].started = now
                case let .roundClosed(name, round) where round.round == 0: t[name, default: (nil, nil, nil)].firstRound = now
                case let .experimentFinished(name, _, _): t[name, default: (nil, nil, nil)].finished = now
                default: break
                }
            }
            changed.lock()
            changed.broadcast()
            changed.unlock()
        }
        let port = try director.start()
        defer { director.stop() }
        let envoys = InProcessEnvoys(fixture: fixture, port: port)
        defer { envoys.stopAll() }
        for name in ["hospital_a", "hospital_b", "hospital_c"] { try envoys.start(name, logger: Logger(label: name, sink: MemoryLogSink())) }
        let client = try DirectorClient(director: Endpoint(host: "127.0.0.1", port: port),
                                        tls: TLSConfiguration(certificateDirectory: fixture.userCertificateDirectory("alice"), name: "alice"))
        let deadline = Deadline.after(seconds: 30)
        while client.envoysOnline() < 3 {
            if deadline.hasPassed { throw BenchError("the three Envoys did not register within 30 s") }
            changed.lock()
            _ = changed.wait(until: Date().addingTimeInterval(0.05))
            changed.unlock()
        }
        let workspace = try fixture.makeWorkspace("bench", rounds: 2)
        let archive = fixture.directory.appending("bench.tar")
        try Workspace(root: workspace).export(to: archive)

        var toStart: [Double] = [], toRound: [Double] = []
        for run in 0..<5 {
            let name = "bench-\(run)"
            let submitted = Deadline.now
            _ = try client.submit(archive: archive, name: name)
            let end = Deadline.after(seconds: 60)
            while true {
                let t = times.withLock { $0[name] }
                if let t, let started = t.started, let round = t.firstRound, t.finished != nil {
                    toStart.append(Double(started.uptimeNanoseconds - submitted.uptimeNanoseconds) / 1e9)
                    toRound.append(Double(round.uptimeNanoseconds - submitted.uptimeNanoseconds) / 1e9)
                    break
                }
                if end.hasPassed { throw BenchError("experiment \(name) did not finish within 60 s") }
                changed.lock()
                _ = changed.wait(until: Date().addingTimeInterval(0.05))
                changed.unlock()
            }
            guard try client.status(name).status == .succeeded else { throw BenchError("experiment \(name) did not succeed") }
        }
        let median = toRound.sorted()[toRound.count / 2]
        let startMedian = toStart.sorted()[toStart.count / 2]
        report.add(BenchmarkFigure(name: "director_submit_to_first_round_3_envoys", value: median * 1000, unit: "ms", reference: nil, ratio: nil,
                                   target: "< 1000 ms", met: median < 1,
                                   note: "median of 5; until round 1 closed with all 3 Envoys reporting (an upper bound on its start): "
                                       + "submit, offer, archive fetched and approved at each site, fx-aggregator started, "
                                       + "3 fx-collaborator processes started and trained one round. Aggregator listening after "
                                       + "\(Int((startMedian * 1000).rounded())) ms (median). All: \(toRound.map { Int(($0 * 1000).rounded()) }) ms"))
    }
}

extension DirectorClient {
    /// How many Envoys are online; 0 when the question fails.
    func envoysOnline() -> Int { ((try? envoys().envoys) ?? []).filter(\.online).count }
}

/// Follows a child's standard output line by line on a thread of its own: waits for a line, and
/// keeps the latest `beats OK FAILED LOST` totals of `SimulatedEnvoys`.
final class LineFollower: Sendable {
    private let state = Mutex<(lines: [String], beats: (ok: Int, failed: Int, lost: Int))>(([], (0, 0, 0)))
    private let arrived = NSCondition()

    init(_ handle: FileHandle) {
        let thread = Thread { [self] in
            var pending = ""
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                pending += String(decoding: data, as: UTF8.self)
                while let newline = pending.firstIndex(of: "\n") {
                    let line = String(pending[..<newline])
                    pending = String(pending[pending.index(after: newline)...])
                    let fields = line.split(separator: " ").compactMap { Int($0) }
                    state.withLock { s in
                        if line.hasPrefix("beats "), fields.count == 3 { s.beats = (fields[0], fields[1], fields[2]) } else { s.lines.append(line) }
                    }
                    arrived.lock()
                    arrived.broadcast()
                    arrived.unlock()
                }
            }
        }
        thread.start()
    }

    /// The first line starting with `prefix`, waiting up to `timeout` seconds for it.
    func wait(forPrefix prefix: String, timeout: Double) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        arrived.lock()
        defer { arrived.unlock() }
        while true {
            if let line = state.withLock({ $0.lines.first { $0.hasPrefix(prefix) } }) { return line }
            if !arrived.wait(until: deadline) { return nil }
        }
    }

    var latestBeats: (ok: Int, failed: Int, lost: Int) { state.withLock { $0.beats } }

    /// Every line kept so far that starts with `prefix`.
    func all(prefixed prefix: String) -> [String] { state.withLock { $0.lines.filter { $0.hasPrefix(prefix) } } }

    /// Forgets the lines kept so far.
    func clear() { state.withLock { $0.lines.removeAll() } }
}
