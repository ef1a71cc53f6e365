/// Size limits a connection enforces on what it receives, checked before any allocation.
public struct FrameLimits: Sendable, Hashable {
    /// Largest control-message payload accepted.
    public var maximumMessageSize: Int
    /// Largest tensor chunk accepted, and the chunk size used when sending.
    public var chunkSize: Int
    /// Largest stream (e.g. a whole model) accepted after one message.
    public var maximumStreamSize: Int

    public init(maximumMessageSize: Int = 16 << 20, chunkSize: Int = 1 << 20, maximumStreamSize: Int = 64 << 30) {
        precondition(chunkSize > 0 && maximumMessageSize > 0)
        self.maximumMessageSize = maximumMessageSize
        self.chunkSize = chunkSize
        self.maximumStreamSize = maximumStreamSize
    }
}
