import Synchronization

/// Bytes a server's connections carried, both ways (TLS payload: frames, streams), counted as they
/// are read and written: what `/metrics` reports as received and sent.
public final class TrafficCounter: Sendable {
    private let receivedBytes = Atomic<Int>(0)
    private let sentBytes = Atomic<Int>(0)

    public init() {}

    /// Bytes read from peers so far.
    public var received: Int { receivedBytes.load(ordering: .relaxed) }
    /// Bytes written to peers so far.
    public var sent: Int { sentBytes.load(ordering: .relaxed) }

    func addReceived(_ count: Int) { receivedBytes.add(count, ordering: .relaxed) }
    func addSent(_ count: Int) { sentBytes.add(count, ordering: .relaxed) }
}
