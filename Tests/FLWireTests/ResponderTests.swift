import Foundation
import Synchronization
import Testing
import FLCore
import FLTesting
@testable import FLWire

/// Stalls `site-a`: answers its request with a stream larger than the socket buffers, which it never
/// reads, so that reply's write holds a's connection until its deadline. When `site-b` asks, answers
/// both, a first, from b's thread: as the Aggregator does when a round opens for everyone at once.
final class StallingHandler: FrameHandler {
    let stalledResponder = Mutex<Responder?>(nil)
    let stalling = DispatchSemaphore(value: 0)

    func handle(_ request: Request) {
        if request.peer.name == "site-a" {
            let responder = request.responder
            stalledResponder.withLock { $0 = responder }
            let source = SignallingSource(byteCount: 64 << 20, writing: stalling)
            let layout = try! ModelLayout([TensorSpec(name: "w", shape: [source.byteCount / 4])])
            responder.post(ModelReply(round: 0, layout: layout), stream: source)
            return
        }
        stalledResponder.withLock { $0 }?.post(TaskReply(status: .wait, round: 0, tasks: ["site-a"]))
        request.responder.post(TaskReply(status: .wait, round: 0, tasks: [request.peer.name]))
    }
}

/// Zeros, signalling once the write holding the connection is under way (its first chunk is being sent).
struct SignallingSource: ChunkSource {
    let byteCount: Int
    let writing: DispatchSemaphore

    func withBytes(offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        if offset == 0 { writing.signal() }
        try [UInt8](repeating: 0, count: count).withUnsafeBytes(body)
    }
}

struct ResponderTests {
    @Test func aStalledPeerNeverHoldsUpTheRepliesPostedToAnother() throws {
        let pki = try TestPKI()
        let handler = StallingHandler()
        let tls = try pki.issue(name: "aggregator", role: .aggregator, hosts: ["127.0.0.1"])
        // Writes to a stalled peer give up after 60 s; the test gives site-b 20.
        let server = try FrameServer(configuration: ServerConfiguration(tls: tls, idleTimeout: 60), handler: handler,
                                     logger: LogRecorder().logger(label: "server"))
        defer { server.stop() }
        // site-a speaks frames over a bare TLS connection it never reads from.
        let raw = try TLSConnection.connect(host: "127.0.0.1", port: server.port, context: TLSContext(pki.issue(name: "site-a"), side: .client), timeout: 5)
        let channelA = FrameChannel(stream: raw, limits: FrameLimits())
        defer { raw.close() }
        try channelA.send(TaskRequest(round: 0, maximumWaitSeconds: 0), id: 1, deadline: .after(seconds: 5))
        #expect(handler.stalling.wait(timeout: .now() + 20) == .success)
        let b = try FrameClient.connect(host: "127.0.0.1", port: server.port, context: TLSContext(pki.issue(name: "site-b"), side: .client), timeout: 5)
        defer { b.close() }
        let reply = try b.call(TaskRequest(round: 0, maximumWaitSeconds: 0), timeout: 20) as? TaskReply
        #expect(reply?.tasks == ["site-b"])
    }
}
