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
/// the second, from the moment it has connected. The process prints `ready REGISTERED FAILED` once
/// every Envoy has had its answer to registering, then `beats OK FAILED LOST` (running totals)
/// every second until it is killed.
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
        let start = Deadline.now
        for part in 0..<threads {
            let thread = Thread {
                run(names: names, part: part, folder: { folder(certs, $0, of: parts) }, port: port, start: start, counters: counters)
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        let pace = DispatchSemaphore(value: 0)
        var ready = false
        while true {
            _ = pace.wait(timeout: .now() + (ready ? 1 : 0.2))  // pacing: nothing signals it
            let c = counters.withLock { $0 }
            if !ready && c.registered + c.refused + c.lost >= count {
                ready = true
                FileHandle.standardOutput.write(Data("ready \(c.registered) \(c.refused + c.lost)\n".utf8))
            }
            if ready { FileHandle.standardOutput.write(Data("beats \(c.beats) \(c.failed) \(c.lost)\n".utf8)) }
        }
    }

    static let shard = ShardDescriptor(path: "bench.csv", labelColumn: "label", sampleShape: [30], targetShape: [1], sampleCount: 100)

    /// One shard's Envoys, on one thread until the process ends: connects and registers them one a
    /// turn while heartbeating those already connected (as real Envoys do from the moment they
    /// register, so none sits idle while the others connect), and keeps each one's long-poll asked.
    static func run(names: [String], part: Int, folder: (Int) -> String, port: Int, start: Deadline, counters: Tally) {
        let epoll = try! Epoll()
        let mine = Array(stride(from: part, to: names.count, by: threads))
        var slots = [Site?](repeating: nil, count: mine.count)
        var connected = 0
        var tokens = [UInt64](repeating: 0, count: 256)
        var scratch = [UInt8](repeating: 0, count: 16 << 10)
        var next = 0, second: UInt64 = 0
        func due() -> Deadline {
            Deadline(uptimeNanoseconds: start.uptimeNanoseconds + second * 1_000_000_000 + UInt64(mine[next]) * 1_000_000_000 / UInt64(names.count))
        }
        func drop(_ slot: Int, _ error: any Error) {
            guard let site = slots[slot] else { return }
            epoll.remove(site.connection.descriptor)
            site.connection.close()
            slots[slot] = nil
            counters.withLock { $0.lost += 1 }
            FileHandle.standardError.write(Data("simulated envoy \(names[site.index]): \(error)\n".utf8))
        }
        guard !mine.isEmpty else { return }
        while true {
            while due().hasPassed {
                if let site = slots[next] {
                    do { try site.send(beat, id: site.takeID()) } catch { drop(next, error) }
                }
                next += 1
                if next == mine.count { next = 0; second += 1 }
            }
            if connected < mine.count {
                let i = mine[connected]
                do {
                    let context = try TLSContext(TLSConfiguration(certificateDirectory: folder(i), name: names[i]), side: .client)
                    let connection = try TLSConnection.connect(host: "127.0.0.1", port: port, context: context, timeout: 60)
                    let site = Site(index: i, connection: connection)
                    try site.send(EnvoyRegistration(envoy: names[i], shard: shard), id: 1)
                    try site.send(ask, id: 2)
                    slots[connected] = site
                    epoll.add(connection.descriptor, token: UInt64(connected))
                } catch {
                    counters.withLock { $0.refused += 1 }
                    FileHandle.standardError.write(Data("simulated envoy \(names[i]): \(error)\n".utf8))
                }
                connected += 1
            }
            let n = epoll.wait(into: &tokens, until: connected < mine.count ? .now : due())
            var beats = 0, failed = 0, registered = 0, refused = 0
            for token in tokens[0..<n] {
                let slot = Int(token)
                guard let site = slots[slot] else { continue }
                do {
                    readLoop: while true {
                        switch try scratch.withUnsafeMutableBytes({ try site.connection.readAvailable(into: $0) }) {
                        case .wouldBlock: break readLoop
                        case .end: throw BenchError("the Director closed the connection")
                        case let .bytes(got): scratch.withUnsafeBytes { site.assembler.append(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
                        }
                        while let frame = try site.assembler.next() {
                            let refusal = frame.message is ErrorReply
                            switch frame.header.id {
                            case 1 where refusal: refused += 1
                            case 1: registered += 1
                            case site.workID:
                                site.workID = site.takeID()
                                try site.send(ask, id: site.workID)
                            default:
                                if refusal { failed += 1 } else { beats += 1 }
                            }
                        }
                    }
                } catch {
                    drop(slot, error)
                }
            }
            if beats + failed + registered + refused > 0 {
                counters.withLock { c in
                    c.beats += beats
                    c.failed += failed
                    c.registered += registered
                    c.refused += refused
                }
            }
        }
    }
}
