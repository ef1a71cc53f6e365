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

    /// Queues `message` as the reply on the peer's writer and returns at once; `written` runs on the
    /// writer once it is sent (or the peer is found gone). For replies decided for many peers at
    /// once (a round opening, a long poll expiring), so no peer waits for another's socket.
    public func post(_ message: some WireMessage, written: (@Sendable () -> Void)? = nil) {
        peer.writer.async {
            reply(message)
            written?()
        }
    }
}
