import Foundation

/// Answers one request. Replies are written with the connection's write lock held, so any thread may answer.
public struct Responder: Sendable {
    public let peer: PeerConnection
    public let id: UInt32

    /// Sends `message` as the reply. Failures to write mean the peer is gone; they close the connection.
    public func reply(_ message: some WireMessage) {
        do {
            try peer.channel.send(message, id: id, flags: .reply, deadline: .after(seconds: peer.writeTimeout))
        } catch {
            peer.close()
        }
    }

    /// Sends `message` followed by a stream of tensor bytes.
    public func reply(_ message: some WireMessage, stream: any ChunkSource) {
        do {
            try peer.channel.send(message, id: id, flags: .reply, stream: stream, deadline: .after(seconds: peer.writeTimeout))
        } catch {
            peer.close()
        }
    }

    /// Answers with an error.
    public func fail(_ code: ErrorReply.Code, _ message: String) { reply(ErrorReply(code, message)) }

    /// The threads that write posted replies: one job at a time per connection, in order. A peer
    /// whose socket does not drain holds one of them until its write deadline; 64 such peers at once
    /// before the others' posted replies wait. Blocking writes never run on Dispatch's threads.
    static let writers = WorkerPool(name: "peer-writer", maximumThreads: 64)

    /// Queues `message` as the reply on the peer's writer and returns at once; `written` runs on the
    /// writer once it is sent (or the peer is found gone). For replies decided for many peers at
    /// once (a round opening, a long poll expiring), so no peer waits for another's socket.
    public func post(_ message: some WireMessage, written: (@Sendable () -> Void)? = nil) {
        Responder.writers.submit(key: peer.serial) {
            reply(message)
            written?()
        }
    }

    /// Queues `message` and the stream after it (an archive, a model) on the peer's writer: the
    /// connection's own thread goes on reading (an Envoy's heartbeats) while it is on its way.
    public func post(_ message: some WireMessage, stream: any ChunkSource) {
        Responder.writers.submit(key: peer.serial) { reply(message, stream: stream) }
    }
}
