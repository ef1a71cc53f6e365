/// What a server does with its peers' requests. Called on the peer's connection thread.
public protocol FrameHandler: AnyObject, Sendable {
    /// A peer finished the handshake; throw `ErrorReply` to turn it away with that message.
    func connected(_ peer: PeerConnection) throws
    /// Handles one request. Answer through `request.responder`, now or later from any thread.
    /// A request's `stream` must be read (or skipped) before returning: it shares the connection.
    func handle(_ request: Request)
    /// The peer's connection closed.
    func disconnected(_ peer: PeerConnection)
}

extension FrameHandler {
    public func connected(_ peer: PeerConnection) throws {}
    public func disconnected(_ peer: PeerConnection) {}
}
