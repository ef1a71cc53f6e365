#if canImport(Glibc)
import Glibc
#endif

/// One accepted TCP connection whose TLS handshake is under way, in a server's `HandshakeQueue`.
///
/// Until the peer sends its first bytes the connection is only a descriptor: the OpenSSL state is
/// made when the socket first turns readable, so a thousand idle connections cost a thousand
/// descriptors and these small objects, nothing more.
///
/// Owned by the server's accept thread alone.
final class PendingHandshake {
    /// The accepted socket (non-blocking, close-on-exec).
    let fd: Int32
    /// The peer's IP address, what the per-address limit counts.
    let host: String
    /// `host:port`, for log lines.
    let label: String
    /// When the handshake must be complete.
    let deadline: Deadline
    /// The TLS connection, once the peer has sent something; it then owns `fd`.
    private(set) var connection: TLSConnection?
    /// What `poll` waits for next.
    var events = Int16(POLLIN)
    /// Set when the handshake is over (done, failed, evicted or expired); the queue drops it next.
    var isDone = false
    private var closed = false

    init(fd: Int32, host: String, label: String, deadline: Deadline) {
        self.fd = fd
        self.host = host
        self.label = label
        self.deadline = deadline
    }

    deinit { discard() }

    /// Whether the peer has sent nothing at all: no TLS state yet and no byte waiting on the socket
    /// (a peer that already hung up counts as idle too).
    var isIdle: Bool {
        guard connection == nil, !closed else { return false }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) <= 0
    }

    /// Takes the handshake as far as it goes without waiting.
    func advance(context: TLSContext, traffic: TrafficCounter? = nil) throws -> TLSConnection.HandshakeProgress {
        if connection == nil {
            closed = true  // the connection owns the descriptor from here on, also if making it fails
            connection = try TLSConnection.serverSide(fd: fd, context: context, peerAddress: label, traffic: traffic)
        }
        let progress = try connection!.advanceHandshake()
        switch progress {
        case .wantsRead: events = Int16(POLLIN)
        case .wantsWrite: events = Int16(POLLOUT)
        case .finished: break
        }
        return progress
    }

    /// Hands the completed connection over; this handshake is done and no longer owns it.
    func takeConnection() -> TLSConnection? {
        defer { connection = nil }
        isDone = true
        return connection
    }

    /// Closes the connection (its descriptor is released when the last reference goes). Idempotent.
    func discard() {
        isDone = true
        if let connection {
            connection.close()
            self.connection = nil
        } else if !closed {
            closed = true
            close(fd)
        }
    }
}
