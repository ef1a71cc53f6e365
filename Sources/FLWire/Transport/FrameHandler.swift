/// What a server does with its peers' requests. `connected`, `handle` and `disconnected` run on the
/// server's handler threads, one call at a time per connection and in the order its requests came.
public protocol FrameHandler: AnyObject, Sendable {
    /// A peer finished the handshake; throw `ErrorReply` to turn it away with that message.
    func connected(_ peer: PeerConnection) throws
    /// Handles one request. Answer through `request.responder`, now or later from any thread.
    /// A request's `stream` must be read (or skipped) before returning: it shares the connection.
    func handle(_ request: Request)
    /// The peer's connection closed.
    func disconnected(_ peer: PeerConnection)
    /// Whether `handle` may run for `message` on the server's event loop itself, skipping the hand-off
    /// to a handler thread: only for requests that take microseconds and never wait (no I/O, no
    /// stream, no lock held for long), since every other connection waits meanwhile. Replies sent
    /// from the loop never block: one that does not fit the socket now is queued as `Responder.post`
    /// queues it. A connection's request still waits for its earlier ones. The default is false.
    func handlesOnLoop(_ message: any WireMessage) -> Bool
}

extension FrameHandler {
    public func connected(_ peer: PeerConnection) throws {}
    public func disconnected(_ peer: PeerConnection) {}
    public func handlesOnLoop(_ message: any WireMessage) -> Bool { false }
}
