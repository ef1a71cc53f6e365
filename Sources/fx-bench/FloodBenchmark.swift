#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FLCore
import FLTesting
import FLWire

/// 3,000 idle TCP connections opened against an aggregator (from loopback, one address, as an
/// attacker on the same machine or behind the same NAT would) just before its collaborators start a
/// 3-round experiment, held open until it ends. Measured: the aggregator's peak thread count and
/// peak RSS, and the time per round against the same experiment without the flood. On main before
/// the handshake queue, the same flood gave 3,003 threads and 224 MB, and running out of
/// descriptors made the accept loop spin at 100 % CPU.
enum FloodBenchmark {
    static let connections = Int(ProcessInfo.processInfo.environment["BENCH_FLOOD_CONNECTIONS"] ?? "") ?? 3000
    static let collaborators = 4
    static let parameters = 100_000
    static let rounds = 3

    static func run(_ report: BenchmarkReport) throws {
        let quiet = try experiment(flood: 0)
        let flooded = try experiment(flood: connections)
        let mainThreads = 3003.0, mainMiB = 224e6 / 1_048_576
        report.add(BenchmarkFigure(name: "aggregator_peak_threads_\(connections)_idle_connections", value: Double(flooded.peakThreads), unit: "threads",
                                   reference: mainThreads, ratio: Double(flooded.peakThreads) / mainThreads, target: "< 64 (main: 3,003)",
                                   met: flooded.peakThreads < 64,
                                   note: "\(quiet.peakThreads) without the flood; before the rounds the server had closed \(flooded.closedByServer) of the idle connections to make room, "
                                       + "using \(String(format: "%.0f", flooded.floodCPUSeconds * 1000)) ms of CPU to take the flood in"))
        let peakMiB = flooded.peakResidentBytes / 1_048_576
        report.add(BenchmarkFigure(name: "aggregator_peak_rss_\(connections)_idle_connections", value: peakMiB, unit: "MiB",
                                   reference: mainMiB, ratio: peakMiB / mainMiB, target: "well under 100 MiB (main: 224 MB)", met: peakMiB < 64,
                                   note: "\(String(format: "%.1f", quiet.peakResidentBytes / 1_048_576)) MiB without the flood; n=\(collaborators), \(parameters / 1000)k parameters"))
        report.add(BenchmarkFigure(name: "round_ms_n4_100k_params_\(connections)_idle_connections", value: flooded.secondsPerRound * 1000, unit: "ms",
                                   reference: quiet.secondsPerRound * 1000, ratio: flooded.secondsPerRound / quiet.secondsPerRound,
                                   target: "all \(rounds) rounds complete", met: true,
                                   note: "reference: the same experiment without the flood; from collaborators' start to the end \(String(format: "%.0f", flooded.experimentSeconds * 1000)) ms vs \(String(format: "%.0f", quiet.experimentSeconds * 1000)) ms"))
    }

    struct Result {
        var peakThreads: Int
        var peakResidentBytes: Double
        var secondsPerRound: Double
        var experimentSeconds: Double
        var closedByServer: Int
        /// The aggregator's CPU time while the flood was opened and it caught up with it.
        var floodCPUSeconds: Double
    }

    static func experiment(flood count: Int) throws -> Result {
        let names = (1...collaborators).map { "site_\($0)" }
        let fixture = try FederationFixture(template: "breast_cancer", collaborators: names)
        try fixture.write("plan/plan.yaml", RoundBenchmark.plan(rounds: rounds, parameters: parameters))
        try fixture.write("plan/cols.yaml", "collaborators:\n" + names.map { "  - \($0)\n" }.joined())
        try fixture.initialize()
        let (aggregator, port) = try fixture.startAggregator()
        let pid = aggregator.process.pid

        var peakThreads = ResourceUsage.threadCount(pid: pid) ?? 0
        let cpuBefore = ResourceUsage.of(pid: pid)?.cpuSeconds ?? 0
        let flood = try IdleFlood(port: port, count: count) {
            peakThreads = max(peakThreads, ResourceUsage.threadCount(pid: pid) ?? 0)
        }
        defer { flood.closeAll() }
        // The server keeps the newest 128 from this address and closes the rest; let it catch up (at most 5 s).
        let settle = RoundBenchmark.monotonicSeconds() + 5
        var closed = flood.closedByServer()
        while count > 128 && closed < count - 128 && RoundBenchmark.monotonicSeconds() < settle {
            _ = poll(nil, 0, 5)
            closed = flood.closedByServer()
        }
        let floodCPU = (ResourceUsage.of(pid: pid)?.cpuSeconds ?? 0) - cpuBefore
        let started = RoundBenchmark.monotonicSeconds()
        var sites: [ProcessUnderTest] = []
        for name in names { sites.append(try fixture.startCollaborator(name, port: port)) }
        // The kernel keeps the high-water mark of RSS (VmHWM); threads are sampled.
        var peakBytes = 0.0
        let deadline = started + 300
        while aggregator.process.wait(timeout: 0.005) == nil && RoundBenchmark.monotonicSeconds() < deadline {
            if let usage = ResourceUsage.of(pid: pid) { peakBytes = max(peakBytes, Double(usage.peakResidentBytes)) }
            if let threads = ResourceUsage.threadCount(pid: pid) { peakThreads = max(peakThreads, threads) }
        }
        let status = try aggregator.waitForExit(timeout: 1)
        let finished = RoundBenchmark.monotonicSeconds()
        guard status.isSuccess else { throw BenchError("aggregator \(status): \(aggregator.errorTail())") }
        for site in sites { try site.waitForExit(timeout: 60) }
        let closes = aggregator.timedOutputLines.filter { $0.line.contains("\"event\":\"round_closed\"") }.map(\.time)
        guard closes.count == rounds else { throw BenchError("saw \(closes.count) of \(rounds) rounds under a flood of \(count)") }
        return Result(peakThreads: peakThreads, peakResidentBytes: peakBytes, secondsPerRound: (closes.last! - closes.first!) / Double(rounds - 1),
                      experimentSeconds: finished - started, closedByServer: closed, floodCPUSeconds: floodCPU)
    }
}

/// Idle TCP connections to a port, opened one after another and held until `closeAll`.
final class IdleFlood {
    private var fds: [Int32] = []

    /// Opens `count` connections, calling `sample` every hundred.
    init(port: Int, count: Int, sample: () -> Void) throws {
        fds.reserveCapacity(count)
        for i in 0..<count {
            do {
                fds.append(try Socket.connect(host: "127.0.0.1", port: port, deadline: .after(seconds: 10)))
            } catch {
                closeAll()
                throw BenchError("idle connection \(i + 1) of \(count): \(error)")
            }
            if i % 100 == 99 { sample() }
        }
    }

    deinit { closeAll() }

    /// How many of them the server has closed.
    func closedByServer() -> Int {
        var polled = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        guard poll(&polled, nfds_t(polled.count), 0) > 0 else { return 0 }
        var byte: UInt8 = 0
        return polled.filter { $0.revents != 0 && recv($0.fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) <= 0 }.count
    }

    func closeAll() {
        for fd in fds { close(fd) }
        fds.removeAll()
    }
}
