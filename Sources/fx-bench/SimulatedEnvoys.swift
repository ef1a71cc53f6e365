#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import FLCore
import FLWire

/// The Envoys of the Director's heartbeat figure, simulated in a process of their own
/// (`fx-bench child envoys CERTS PORT COUNT PARTS`) so cheaply that the figure measures the Director, not
/// them: a few threads each own a share of the connections and serve them from one `Epoll` set with
/// non-blocking reads and a `FrameAssembler` per connection — no thread, and no `FrameClient`
/// reader thread, per Envoy.
///
/// Each Envoy registers (`EnvoyRegistration`), keeps one `WorkRequest` outstanding (asking again
/// when it is answered), and sends an `EnvoyHeartbeat` every second, the Envoys spread evenly over
/// the second. The process prints `ready REGISTERED FAILED` once every Envoy has tried to register,
/// then `beats OK FAILED LOST` (running totals) every second until it is killed.
enum SimulatedEnvoys {
    static let threads = 4

    /// One simulated Envoy's connection, owned by its shard's thread.
    final class Site {
        let index: Int
        let connection: TLSConnection
        var assembler = FrameAssembler(limits: FrameLimits())
        var nextID: UInt32 = 3
        var workID: UInt32 = 2

        init(index: Int, connection: TLSConnection) {
            self.index = index
            self.connection = connection
        }

        func send(_ message: some WireMessage, id: UInt32) throws {
            let frame = FrameChannel.encodeFrame(message, id: id, flags: [], streamLength: nil)
            try frame.withUnsafeBytes { try connection.write($0, deadline: .after(seconds: 5)) }
        }

        func takeID() -> UInt32 {
            defer { nextID = nextID == .max ? 3 : nextID + 1 }
            return nextID
        }
    }

    struct Counters {
        var registered = 0
        var refused = 0
        var beats = 0
        var failed = 0
        var lost = 0
    }

    /// The counters every shard adds to.
    final class Tally: Sendable {
        private let counters = Mutex(Counters())
        func withLock<R>(_ body: (inout Counters) -> R) -> R { counters.withLock { body(&$0) } }
    }

    static func names(_ count: Int) -> [String] { (0..<count).map { String(format: "site-%05d", $0) } }

    /// Where Envoy `index`'s key and certificate are, when they were issued by `parts` threads.
    static func folder(_ certs: String, _ index: Int, of parts: Int) -> String { "\(certs)/envoys-\(index % parts)" }

    static let ask = WorkRequest(experiment: "", launch: 0, state: .idle, maximumWaitSeconds: 30)
    static let beat = EnvoyHeartbeat(cpuPercent: 10, residentBytes: 50 << 20, availableBytes: 8 << 30, collaboratorRunning: false, experiment: "")

    /// The child process: registers every Envoy, then heartbeats until killed.
    static func child(_ args: [String]) throws -> Never {
        let certs = args[0], port = Int(args[1])!, count = Int(args[2])!, parts = Int(args[3])!
        let names = names(count)
        let counters = Tally()
        let registered = DispatchSemaphore(value: 0)
        let go = DispatchSemaphore(value: 0)
        let clock = Atomic<UInt64>(0)
        for part in 0..<threads {
            let thread = Thread {
                let sites = connect(names: names, part: part, folder: { folder(certs, $0, of: parts) }, port: port, counters: counters)
                registered.signal()
                go.wait()
                serve(sites, count: count, start: Deadline(uptimeNanoseconds: clock.load(ordering: .acquiring)), counters: counters)
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        for _ in 0..<threads { registered.wait() }
        clock.store(Deadline.now.uptimeNanoseconds, ordering: .releasing)
        for _ in 0..<threads { go.signal() }
        let c = counters.withLock { $0 }
        FileHandle.standardOutput.write(Data("ready \(c.registered) \(c.refused)\n".utf8))
        let pace = DispatchSemaphore(value: 0)
        while true {
            _ = pace.wait(timeout: .now() + 1)  // pacing: nothing signals it
            let c = counters.withLock { $0 }
            FileHandle.standardOutput.write(Data("beats \(c.beats) \(c.failed) \(c.lost)\n".utf8))
        }
    }

    /// Connects and registers this shard's Envoys, one after another, each with its long-poll sent.
    static func connect(names: [String], part: Int, folder: (Int) -> String, port: Int, counters: Tally) -> [Site] {
        var sites: [Site] = []
        let shard = ShardDescriptor(path: "bench.csv", labelColumn: "label", sampleShape: [30], targetShape: [1], sampleCount: 100)
        for i in stride(from: part, to: names.count, by: threads) {
            do {
                let context = try TLSContext(TLSConfiguration(certificateDirectory: folder(i), name: names[i]), side: .client)
                let connection = try TLSConnection.connect(host: "127.0.0.1", port: port, context: context, timeout: 60)
                let site = Site(index: i, connection: connection)
                try site.send(EnvoyRegistration(envoy: names[i], shard: shard), id: 1)
                // Blocking reads take no more than the frame: nothing is left for the loop to miss.
                let reply = try FrameChannel(stream: connection, limits: FrameLimits()).readMessage(deadline: .after(seconds: 60))
                guard let reply, !(reply.message is ErrorReply) else { throw BenchError("registration of \(names[i]) refused: \(String(describing: reply?.message))") }
                try site.send(ask, id: 2)
                sites.append(site)
                counters.withLock { $0.registered += 1 }
            } catch {
                counters.withLock { $0.refused += 1 }
                FileHandle.standardError.write(Data("simulated envoy \(names[i]): \(error)\n".utf8))
            }
        }
        return sites
    }

    /// Heartbeats and long-polls for `sites` until the process ends.
    static func serve(_ sites: [Site], count: Int, start: Deadline, counters: Tally) {
        guard let epoll = try? Epoll(), !sites.isEmpty else { return }
        var byToken: [UInt64: Site] = [:]
        for site in sites {
            byToken[UInt64(site.index + 1)] = site
            epoll.add(site.connection.descriptor, token: UInt64(site.index + 1))
        }
        var tokens = [UInt64](repeating: 0, count: 256)
        var scratch = [UInt8](repeating: 0, count: 16 << 10)
        var next = 0, second: UInt64 = 0
        func due() -> Deadline {
            Deadline(uptimeNanoseconds: start.uptimeNanoseconds + second * 1_000_000_000 + UInt64(sites[next].index) * 1_000_000_000 / UInt64(count))
        }
        while true {
            while due().hasPassed {
                let site = sites[next]
                if byToken[UInt64(site.index + 1)] != nil {
                    do { try site.send(beat, id: site.takeID()) } catch { counters.withLock { $0.failed += 1 } }
                }
                next += 1
                if next == sites.count { next = 0; second += 1 }
            }
            let n = epoll.wait(into: &tokens, until: due())
            var beats = 0, failed = 0
            for token in tokens[0..<n] {
                guard let site = byToken[token] else { continue }
                do {
                    readLoop: while true {
                        switch try scratch.withUnsafeMutableBytes({ try site.connection.readAvailable(into: $0) }) {
                        case .wouldBlock: break readLoop
                        case .end: throw BenchError("the Director closed the connection of site \(site.index)")
                        case let .bytes(got): scratch.withUnsafeBytes { site.assembler.append(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
                        }
                        while let frame = try site.assembler.next() {
                            if frame.header.id == site.workID {
                                site.workID = site.takeID()
                                try site.send(ask, id: site.workID)
                            } else if frame.message is ErrorReply {
                                failed += 1
                            } else {
                                beats += 1
                            }
                        }
                    }
                } catch {
                    epoll.remove(site.connection.descriptor)
                    byToken[token] = nil
                    site.connection.close()
                    counters.withLock { $0.lost += 1 }
                    FileHandle.standardError.write(Data("simulated envoy \(site.index): \(error)\n".utf8))
                }
            }
            if beats + failed > 0 {
                counters.withLock { c in
                    c.beats += beats
                    c.failed += failed
                }
            }
        }
    }
}
