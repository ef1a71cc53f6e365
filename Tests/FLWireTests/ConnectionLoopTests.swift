#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
import FLCore
import FLTesting
@testable import FLWire
import FLPKI

/// Answers "who am I" (`TaskRequest`), sums streamed updates, and holds a `TaskRequest` that would
/// wait 99 s until the test opens the gate: a handler that is slow for one peer.
final class GatedHandler: FrameHandler {
    let gate = DispatchSemaphore(value: 0)
    let held = DispatchSemaphore(value: 0)

    func handle(_ request: Request) {
        switch request.message {
        case let m as TaskRequest:
            if m.maximumWaitSeconds == 99 {
                held.signal()
                gate.wait()
            }
            request.responder.reply(TaskReply(status: .wait, round: m.round, tasks: [request.peer.name]))
        case let m as TaskResultMessage:
            do {
                let values = try #require(request.stream).readFloats()
                request.responder.reply(TaskReply(status: .run, round: m.round, tasks: ["sum=\(values.reduce(0, +))"]))
            } catch {
                request.responder.fail(.badRequest, "\(error)")
            }
        default:
            request.responder.fail(.badRequest, "unexpected \(type(of: request.message))")
        }
    }
}

/// Answers "who am I" for rounds of even numbers on the loop itself, and notes where each ran.
final class OnLoopHandler: FrameHandler {
    let ranOnLoop = Mutex<[Int: Bool]>([:])

    func handlesOnLoop(_ message: any WireMessage) -> Bool { ((message as? TaskRequest)?.round ?? 1) % 2 == 0 }

    func handle(_ request: Request) {
        let round = (request.message as? TaskRequest)?.round ?? -1
        ranOnLoop.withLock { $0[round] = ConnectionLoop.isCurrentThread }
        request.responder.reply(TaskReply(status: .wait, round: round, tasks: [request.peer.name]))
    }
}

/// A peer that writes frames and reads replies itself, on the test's thread: no reader thread.
struct RawPeer {
    let connection: TLSConnection
    let channel: FrameChannel

    init(port: Int, tls: TLSConfiguration) throws {
        connection = try TLSConnection.connect(host: "127.0.0.1", port: port, context: TLSContext(tls, side: .client), timeout: 10)
        channel = FrameChannel(stream: connection, limits: FrameLimits())
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try connection.write($0, deadline: .after(seconds: 10)) }
    }

    func send(_ message: some WireMessage, id: UInt32) throws {
        try write(FrameChannel.encodeFrame(message, id: id, flags: [], streamLength: nil))
    }

    func receive() throws -> IncomingFrame {
        guard let frame = try channel.readMessage(deadline: .after(seconds: 10)) else {
            throw TLSError.connection(peer: "server", reason: "closed")
        }
        return frame
    }
}

@Suite struct ConnectionLoopTests {
    static func server(_ pki: TestPKI, _ handler: any FrameHandler, _ log: LogRecorder,
                       configure: (inout ServerConfiguration) -> Void = { _ in }) throws -> FrameServer {
        var configuration = ServerConfiguration(tls: try pki.issue(name: "aggregator", role: .aggregator), idleTimeout: 30)
        configure(&configuration)
        return try FrameServer(configuration: configuration, handler: handler, logger: log.logger(label: "server"))
    }

    @Test func aThousandConnectionsAreServedByAFewThreads() throws {
        // Both ends of every connection live in this process: two descriptors each.
        let count = min(1000, (ProcessSetup.raiseDescriptorLimit() - 400) / 2)
        try #require(count >= 500, "the descriptor limit is too low for this test; raise `ulimit -n`")
        let pki = try TestPKI()
        let log = LogRecorder()
        let server = try ConnectionLoopTests.server(pki, GatedHandler(), log) {
            $0.maximumConnectionsPerName = 2000
            $0.maximumHandlerThreads = 4
            $0.idleTimeout = 600  // the first connection must outlast a slow machine's thousand handshakes
        }
        defer { server.stop() }
        let tls = try pki.issue(name: "site-1")
        let threadsBefore = try #require(ResourceUsage.threadCount())
        var peers: [RawPeer] = []
        for i in 0..<count {
            let peer = try RawPeer(port: server.port, tls: tls)
            try peer.send(TaskRequest(round: i, maximumWaitSeconds: 0), id: 1)
            peers.append(peer)
        }
        // Every connection is served (each had its answer) and still open.
        for (i, peer) in peers.enumerated() {
            let reply = try peer.receive()
            #expect((reply.message as? TaskReply)?.round == i)
        }
        #expect(server.connectionCount == count)
        let threadsDuring = try #require(ResourceUsage.threadCount())
        // A thread per connection would add a thousand; the loop, the handlers and other tests' threads are a few dozen at most.
        #expect(threadsDuring - threadsBefore < 60, "threads went from \(threadsBefore) to \(threadsDuring) with \(count) connections served")
        for peer in peers { peer.connection.close() }
        try eventually(timeout: 20, "\(server.connectionCount) connections left") { server.connectionCount == 0 }
    }

    @Test func aPeerStalledInsideAFrameHoldsUpNoOneAndIsClosedWhenIdle() throws {
        let pki = try TestPKI()
        let log = LogRecorder()
        let server = try ConnectionLoopTests.server(pki, GatedHandler(), log) { $0.idleTimeout = 1 }
        defer { server.stop() }
        let stalled = try RawPeer(port: server.port, tls: pki.issue(name: "mallory"))
        defer { stalled.connection.close() }
        try stalled.write(FrameHeader(length: 100, type: TaskRequest.type.rawValue, id: 1).bytes + [UInt8](repeating: 0, count: 10))
        // Another peer is answered while half a frame waits, again and again.
        let honest = try RawPeer(port: server.port, tls: pki.issue(name: "site-1"))
        defer { honest.connection.close() }
        for id in 1...20 {
            try honest.send(TaskRequest(round: id, maximumWaitSeconds: 0), id: UInt32(id))
            #expect((try honest.receive().message as? TaskReply)?.round == id)
        }
        // The stalled peer is closed at the idle timeout (the honest one, quiet now, too).
        #expect(TLSTestPeer.waitForClose(stalled.connection), "the stalled connection was kept open")
        let line = log.waitForLine(containing: "closing idle connection of mallory", timeout: 10)
        #expect(line?.fields["peer"] == "mallory")
    }

    @Test func aSlowHandlerForOnePeerHoldsUpNoOtherPeer() throws {
        let pki = try TestPKI()
        let log = LogRecorder()
        let handler = GatedHandler()
        let server = try ConnectionLoopTests.server(pki, handler, log)
        defer { server.stop() }
        let slow = try RawPeer(port: server.port, tls: pki.issue(name: "site-slow"))
        defer { slow.connection.close() }
        try slow.send(TaskRequest(round: 1, maximumWaitSeconds: 99), id: 1)
        try slow.send(TaskRequest(round: 5, maximumWaitSeconds: 0), id: 2)
        #expect(handler.held.wait(timeout: .now() + 10) == .success)
        let other = try RawPeer(port: server.port, tls: pki.issue(name: "site-2"))
        defer { other.connection.close() }
        for id in 1...10 {
            try other.send(TaskRequest(round: id, maximumWaitSeconds: 0), id: UInt32(id))
            #expect((try other.receive().message as? TaskReply)?.round == id)
        }
        // The slow peer's requests are handled in the order sent, the second after the first.
        handler.gate.signal()
        #expect(try slow.receive().header.id == 1)
        #expect(try slow.receive().header.id == 2)
    }

    @Test func requestsOfOneConnectionAreAnsweredInOrder() throws {
        let pki = try TestPKI()
        let server = try ConnectionLoopTests.server(pki, GatedHandler(), LogRecorder())
        defer { server.stop() }
        let peer = try RawPeer(port: server.port, tls: pki.issue(name: "site-1"))
        defer { peer.connection.close() }
        // Sent in one write, more than the loop hands on before it stops reading the connection.
        var bytes: [UInt8] = []
        for id in 1...300 { bytes += FrameChannel.encodeFrame(TaskRequest(round: id, maximumWaitSeconds: 0), id: UInt32(id), flags: [], streamLength: nil) }
        try peer.write(bytes)
        let ids = try (1...300).map { _ in try peer.receive().header.id }
        #expect(ids == Array(1...300).map(UInt32.init))
    }

    @Test func aHandlerMayAnswerCheapRequestsOnTheLoopAndOrderIsKept() throws {
        let pki = try TestPKI()
        let handler = OnLoopHandler()
        let server = try ConnectionLoopTests.server(pki, handler, LogRecorder())
        defer { server.stop() }
        let peer = try RawPeer(port: server.port, tls: pki.issue(name: "site-1"))
        defer { peer.connection.close() }
        // Alone, a cheap request runs on the loop and its reply (sent with `reply`) arrives.
        try peer.send(TaskRequest(round: 0, maximumWaitSeconds: 0), id: 1)
        #expect((try peer.receive().message as? TaskReply)?.round == 0)
        #expect(handler.ranOnLoop.withLock { $0[0] } == true)
        // Mixed with requests for the workers, the cheap ones wait their turn: answers in the order asked.
        var bytes: [UInt8] = []
        for round in 1...200 { bytes += FrameChannel.encodeFrame(TaskRequest(round: round, maximumWaitSeconds: 0), id: UInt32(round + 1), flags: [], streamLength: nil) }
        try peer.write(bytes)
        let rounds = try (1...200).map { _ in (try peer.receive().message as? TaskReply)?.round }
        #expect(rounds == Array(1...200))
        #expect(handler.ranOnLoop.withLock { m in m.filter { $0.key % 2 == 1 }.allSatisfy { !$0.value } }, "a request the handler did not declare cheap ran on the loop")
    }

    @Test func aStreamedRequestWorksAmongSmallRequestsOfOtherPeers() throws {
        let pki = try TestPKI()
        let server = try ConnectionLoopTests.server(pki, GatedHandler(), LogRecorder())
        defer { server.stop() }
        let uploader = try RawPeer(port: server.port, tls: pki.issue(name: "site-up"))
        defer { uploader.connection.close() }
        let values = (0..<(3 << 18)).map { Float($0 % 1000) }  // 3 MiB: three chunks of 1 MiB
        let layout = try ModelLayout([TensorSpec(name: "w", shape: [values.count])])
        let update = TaskResultMessage(round: 1, task: "train", sampleCount: 1, metrics: [:], layout: layout)
        let others = try (0..<4).map { try RawPeer(port: server.port, tls: pki.issue(name: "site-\($0)")) }
        defer { for o in others { o.connection.close() } }
        let failures = Atomic<Int>(0)
        let smallDone = DispatchSemaphore(value: 0)
        for (n, other) in others.enumerated() {
            Thread {
                for id in 1...50 {
                    do {
                        try other.send(TaskRequest(round: id, maximumWaitSeconds: 0), id: UInt32(id))
                        if (try other.receive().message as? TaskReply)?.tasks != ["site-\(n)"] { failures.add(1, ordering: .relaxed) }
                    } catch {
                        failures.add(1, ordering: .relaxed)
                    }
                }
                smallDone.signal()
            }.start()
        }
        // The stream and a request after it go out back to back, so the loop holds the start of one and all of the other.
        try uploader.channel.send(update, id: 1, stream: FloatBufferSource(values), deadline: .after(seconds: 10))
        try uploader.send(TaskRequest(round: 2, maximumWaitSeconds: 0), id: 2)
        let sum = try uploader.receive()
        #expect(sum.header.id == 1 && (sum.message as? TaskReply)?.tasks == ["sum=\(values.reduce(0, +))"])
        let after = try uploader.receive()
        #expect(after.header.id == 2 && (after.message as? TaskReply)?.tasks == ["site-up"])
        for _ in others { #expect(smallDone.wait(timeout: .now() + 30) == .success) }
        #expect(failures.load(ordering: .relaxed) == 0)
    }
}
