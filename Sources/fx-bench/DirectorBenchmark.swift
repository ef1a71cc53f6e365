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
/// are its own) holding 1,000 Envoy connections that heartbeat every second, each also holding a
/// long-poll for work as a real Envoy does, measured over 30 s; (2) the time from `submit` to the
/// first round on three Envoys, with the real aggregator and collaborator executables.
enum DirectorBenchmark {
    static let envoyCount = Int(ProcessInfo.processInfo.environment["BENCH_ENVOYS"] ?? "") ?? 1000
    static let window = Double(ProcessInfo.processInfo.environment["BENCH_DIRECTOR_SECONDS"] ?? "") ?? 30

    static func run(_ report: BenchmarkReport) throws {
        try heartbeats(report)
        try submitToFirstRound(report)
    }

    // MARK: 1,000 Envoys heartbeating

    static func heartbeats(_ report: BenchmarkReport) throws {
        let directory = try TemporaryDirectory(prefix: "fx-bench-director")
        let started = Deadline.now
        let authority = try CertificateAuthority.create(directory: directory.appending("ca"))
        let certs = directory.appending("cert")
        _ = try authority.certify(name: "director", hosts: ["127.0.0.1"], role: .director, directory: certs)
        _ = try authority.certify(name: "operator", role: .admin, directory: certs)
        let names = (0..<envoyCount).map { String(format: "site-%04d", $0) }
        // Issuing a thousand certificates is the slow part of the set-up; spread it over the cores.
        DispatchQueue.concurrentPerform(iterations: 4) { part in
            for name in names.enumerated().filter({ $0.offset % 4 == part }).map(\.element) {
                _ = try? authority.certify(name: name, role: .envoy, directory: certs)
            }
        }
        let child = try BenchChild.start(["director", certs, directory.appending("state")])
        defer { child.process.kill() }
        let setup = started.elapsedSeconds

        // Connect and register every Envoy (4 threads), then keep a long-poll for work outstanding on each.
        let shard = ShardDescriptor(path: "bench.csv", labelColumn: "label", sampleShape: [30], targetShape: [1], sampleCount: 100)
        let clients = Mutex<[Int: FrameClient]>([:])
        let failures = Atomic<Int>(0)
        let connectStart = Deadline.now
        DispatchQueue.concurrentPerform(iterations: 4) { part in
            for i in stride(from: part, to: names.count, by: 4) {
                do {
                    let tls = TLSConfiguration(certificateDirectory: certs, name: names[i])
                    let client = try FrameClient.connect(host: "127.0.0.1", port: child.port, context: TLSContext(tls, side: .client), timeout: 30)
                    _ = try client.call(EnvoyRegistration(envoy: names[i], shard: shard), timeout: 30)
                    clients.withLock { $0[i] = client }
                } catch {
                    failures.add(1, ordering: .relaxed)
                }
            }
        }
        let connected = clients.withLock { $0 }
        let connectSeconds = connectStart.elapsedSeconds
        guard connected.count == names.count else { throw BenchError("only \(connected.count) of \(names.count) Envoys registered") }
        let stop = Atomic<Bool>(false)
        let pollers = connected.map { _, client in
            let thread = Thread {
                while !stop.load(ordering: .relaxed) {
                    let ask = WorkRequest(experiment: "", launch: 0, state: .idle, maximumWaitSeconds: 30)
                    if (try? client.call(ask, timeout: 60)) == nil { break }
                }
            }
            thread.stackSize = 128 << 10
            thread.start()
            return thread
        }
        _ = pollers

        // Heartbeats: each Envoy once a second, spread evenly over the second, from 8 threads.
        let beats = Atomic<Int>(0)
        let beatFailures = Atomic<Int>(0)
        let beat = EnvoyHeartbeat(cpuPercent: 10, residentBytes: 50 << 20, availableBytes: 8 << 30, collaboratorRunning: false, experiment: "")
        @Sendable func heartbeatLoop(_ part: Int, _ parts: Int, from start: Deadline, for duration: Double) {
            let mine = connected.keys.sorted().filter { $0 % parts == part }
            let pace = DispatchSemaphore(value: 0)
            var second = 0
            while Double(second) < duration {
                for i in mine {
                    let due = Double(second) + Double(i) / Double(names.count)
                    let wait = due - start.elapsedSeconds
                    if wait > 0 { _ = pace.wait(timeout: .now() + wait) }  // pacing, not synchronisation: nothing signals it
                    do {
                        try connected[i]!.call(beat, timeout: 10)
                        beats.add(1, ordering: .relaxed)
                    } catch {
                        beatFailures.add(1, ordering: .relaxed)
                    }
                }
                second += 1
            }
        }
        // Warm up for 3 s, then measure the Director's CPU over the window.
        let warm = Deadline.now
        DispatchQueue.concurrentPerform(iterations: 8) { heartbeatLoop($0, 8, from: warm, for: 3) }
        guard let before = ResourceUsage.of(pid: child.process.pid) else { throw BenchError("the Director child is gone") }
        let measureStart = Deadline.now
        beats.store(0, ordering: .relaxed)
        DispatchQueue.concurrentPerform(iterations: 8) { heartbeatLoop($0, 8, from: measureStart, for: window) }
        let elapsed = measureStart.elapsedSeconds
        guard let after = ResourceUsage.of(pid: child.process.pid) else { throw BenchError("the Director child is gone") }
        let cpu = (after.cpuSeconds - before.cpuSeconds) / elapsed * 100

        // Every Envoy must still be online in the Director's own view.
        let operatorClient = try DirectorClient(director: Endpoint(host: "127.0.0.1", port: child.port),
                                                tls: TLSConfiguration(certificateDirectory: certs, name: "operator"))
        let online = try operatorClient.envoys().envoys.filter(\.online).count
        let threads = (try? String(contentsOfFile: "/proc/\(child.process.pid)/status", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("Threads:") }.map { String($0.dropFirst(8)).trimmingCharacters(in: .whitespaces) } ?? "?"
        stop.store(true, ordering: .relaxed)
        for client in connected.values { client.close() }

        let note = "\(names.count) Envoys, \(beats.load(ordering: .relaxed)) heartbeats in \(String(format: "%.1f", elapsed)) s "
            + "(\(beatFailures.load(ordering: .relaxed)) failed), \(online) online at the end, each with a long-poll held; "
            + "Director threads \(threads); set-up \(String(format: "%.1f", setup)) s, connect+register \(String(format: "%.1f", connectSeconds)) s"
        report.add(BenchmarkFigure(name: "director_\(names.count)_envoys_heartbeat_cpu", value: cpu, unit: "% of a core", reference: nil, ratio: nil,
                                   target: "< 15%", met: cpu < 15 && online == names.count, note: note))
        let peak = Double(after.peakResidentBytes) / 1048576
        report.add(BenchmarkFigure(name: "director_\(names.count)_envoys_peak_rss", value: peak, unit: "MiB", reference: nil, ratio: nil,
                                   target: "< 256 MiB", met: peak < 256,
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
        var envoys: [(Envoy, DispatchSemaphore)] = []
        defer {
            for (envoy, _) in envoys { envoy.stop() }
            for (_, done) in envoys { _ = done.wait(timeout: .now() + 30) }
        }
        for name in ["hospital_a", "hospital_b", "hospital_c"] {
            let envoy = try Envoy(settings: try EnvoySettings.load(path: fixture.envoyConfigurationPath(name), name: name,
                                                                   director: Endpoint(host: "127.0.0.1", port: port)),
                                  logger: Logger(label: name, sink: MemoryLogSink()))
            let done = DispatchSemaphore(value: 0)
            Thread {
                try? envoy.run()
                done.signal()
            }.start()
            envoys.append((envoy, done))
        }
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
