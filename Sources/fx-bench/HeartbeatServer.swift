#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import FLCore
import FLWire

/// The transport alone under the Director's heartbeat load: a `FrameServer` whose handler does what
/// the Director's does for Envoys at its cheapest — registration and heartbeat answered `OkReply`
/// with the time noted under one lock, each `WorkRequest` held 30 s and then answered `.wait` —
/// in a child process (`fx-bench child heartbeat-server CERTS`). It prints `port N`, then
/// `online N` every second: the Envoys heard from in the last 3 s. With `BENCH_HEARTBEAT_ON_LOOP=1`
/// heartbeats are handled on the event loop (`FrameHandler.handlesOnLoop`).
final class HeartbeatServer: FrameHandler {
    private let heard = Mutex<[String: UInt64]>([:])
    private let held = Mutex<[(deadline: Deadline, responder: Responder)]>([])
    private let onLoop = ProcessInfo.processInfo.environment["BENCH_HEARTBEAT_ON_LOOP"] == "1"

    func handlesOnLoop(_ message: any WireMessage) -> Bool { onLoop && message is EnvoyHeartbeat }

    func handle(_ request: Request) {
        switch request.message {
        case is EnvoyRegistration, is EnvoyHeartbeat:
            let now = Deadline.now.uptimeNanoseconds
            heard.withLock { $0[request.peer.name] = now }
            request.responder.reply(OkReply())
        case is WorkRequest:
            held.withLock { $0.append((.after(seconds: 30), request.responder)) }
        default:
            request.responder.fail(.badRequest, "not here")
        }
    }

    /// Answers the long-polls that are due; how many Envoys were heard from in the last 3 s.
    func tick() -> Int {
        let due: [Responder] = held.withLock { h in
            let split = h.partition { !$0.deadline.hasPassed }
            defer { h.removeSubrange(split...) }
            return h[split...].map(\.responder)
        }
        for responder in due { responder.post(WorkAssignment(action: .wait)) }
        let now = Deadline.now.uptimeNanoseconds
        return heard.withLock { $0.values.filter { now - min(now, $0) < 3_000_000_000 }.count }
    }

    /// The child process.
    static func child(_ args: [String]) throws -> Never {
        let tls = TLSConfiguration(caCertificatePath: "\(args[0])/ca.crt", certificatePath: "\(args[0])/director.crt",
                                   privateKeyPath: "\(args[0])/director.key", releaseIdleBuffers: true)
        let handler = HeartbeatServer()
        let server = try FrameServer(configuration: ServerConfiguration(tls: tls, idleTimeout: 60, allowedRoles: [.envoy]), handler: handler,
                                     logger: Logger(label: "heartbeat-server", sink: MemoryLogSink(), minimumLevel: .error))
        FileHandle.standardOutput.write(Data("port \(server.port)\n".utf8))
        let pace = DispatchSemaphore(value: 0)
        while true {
            _ = pace.wait(timeout: .now() + 1)  // pacing: nothing signals it
            FileHandle.standardOutput.write(Data("online \(handler.tick())\n".utf8))
        }
    }
}
