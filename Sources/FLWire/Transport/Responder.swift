import Foundation

/// Answers one request. Replies are written with the connection's write lock held, so any thread may answer.
public struct Responder: Sendable {
    public let peer: PeerConnection
    public let id: UInt32

    /// Sends `message` as the reply. Failures to write mean the peer is gone; they close the connection.
    /// On a server's event loop (`FrameHandler.handlesOnLoop`) this is `post`: the loop never waits.
    public func reply(_ message: some WireMessage) {
        if ConnectionLoop.isCurrentThread { return post(message) }
        do {
            try peer.channel.send(message, id: id, flags: .reply, deadline: .after(seconds: peer.writeTimeout))
        } catch {
            peer.close()
        }
    }

    /// Sends `message` followed by a stream of tensor bytes (queued as `post` does on an event loop).
    public func reply(_ message: some WireMessage, stream: any ChunkSource) {
        if ConnectionLoop.isCurrentThread { return post(message, stream: stream) }
        do {
            try peer.channel.send(message, id: id, flags: .reply, stream: stream, deadline: .after(seconds: peer.writeTimeout))
        } catch {
            peer.close()
        }
    }

    /// Answers with an error.
    public func fail(_ code: ErrorReply.Code, _ message: String) { reply(ErrorReply(code, message)) }

    /// The threads that write posted replies, one job at a time per connection, in order. A peer
    /// whose socket does not drain holds one of them until its write deadline: 64 such peers at once
    /// before the others' posted replies wait. Blocking writes never run on Dispatch's threads.
    static let writers = WorkerPool(name: "peer-writer", maximumThreads: 64)
    /// Streams (archives, models) go on threads of their own, so a burst of downloads never holds up
    /// the small replies everyone else waits for; more than 16 at once would only share the same
    /// cipher bandwidth.
    static let streamers = WorkerPool(name: "peer-streamer", maximumThreads: 16)

    /// The connection's key in the pools: the object's identity, unique in the process while a job
    /// holds it (each server numbers its own connections from 1, so `serial` is not).
    private var key: UInt64 { UInt64(UInt(bitPattern: ObjectIdentifier(peer))) }

    /// Queues `message` as the reply on the peer's writer and returns at once; `written` runs on the
    /// writer once it is sent (or the peer is found gone). For replies decided for many peers at
    /// once (a round opening, a long poll expiring), so no peer waits for another's socket. A peer
    /// with a thousand replies waiting is not reading: it is closed.
    public func post(_ message: some WireMessage, written: (@Sendable () -> Void)? = nil) {
        // Most replies fit the room the connection has: written at once on this thread (no thread
        // hand-off, which costs more than the write on a busy machine); only one that would wait goes
        // to the writers.
        do {
            if try peer.channel.sendIfWritable(message, id: id, flags: .reply, deadline: .after(seconds: peer.writeTimeout)) {
                written?()
                return
            }
        } catch {
            peer.close()
            written?()
            return
        }
        let accepted = Responder.writers.submit(key: key) {
            reply(message)
            written?()
        }
        if !accepted {
            peer.close()
            written?()
        }
    }

    /// Queues `message` and the stream after it (an archive, a model) on a streaming thread; the
    /// connection's own thread goes on reading meanwhile.
    public func post(_ message: some WireMessage, stream: any ChunkSource) {
        if !Responder.streamers.submit(key: key, { reply(message, stream: stream) }) { peer.close() }
    }
}
