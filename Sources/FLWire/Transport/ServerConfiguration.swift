import FLPKI

/// How a `FrameServer` listens, what it accepts, and how much any one peer or address may hold.
///
/// A server spends nothing per TCP connection but a descriptor and a place in its handshake queue
/// until the peer has completed a mutual-TLS handshake and passed the role and name checks; then the
/// connection joins the server's event loop, costing its TLS state and the bytes of a partial frame
/// (never a thread). The limits below bound each stage, so neither idle TCP connections nor many
/// connections of one valid certificate can exhaust a server.
public struct ServerConfiguration: Sendable {
    public var host: String
    /// 0 picks a free port; read the chosen one from `FrameServer.port`.
    public var port: Int
    public var tls: TLSConfiguration
    public var limits: FrameLimits
    /// Seconds a connection may take from being accepted to a completed TLS handshake.
    public var handshakeTimeout: Double
    /// A connection with no frame from the peer for this long is closed.
    public var idleTimeout: Double
    /// Certificate names allowed to connect; nil lets in anyone the CA vouches for.
    public var allowedPeers: Set<String>?
    /// Certificate roles allowed to connect; nil lets in any certificate, even one without a role.
    public var allowedRoles: Set<CertificateRole>?
    /// Authenticated connections served at once; one more is refused, with an error reply, right
    /// after its handshake. The descriptor limit (`FrameServer.descriptorBudget`) usually binds first.
    public var maximumConnections: Int
    /// Authenticated connections of one certificate name served at once, so that one valid
    /// certificate cannot hold thousands of connections. A peer normally holds one; 32 leaves room for
    /// reconnects and tools sharing a site's certificate.
    public var maximumConnectionsPerName: Int
    /// Threads that run the handler's calls (`FrameHandler.handle`), one request at a time per
    /// connection; made when needed, gone after 30 s without work. A handler that blocks (reading a
    /// request's stream, say) holds one, so this many slow peers at once make the others' requests wait.
    public var maximumHandlerThreads: Int
    /// TCP connections whose TLS handshake is under way, from all addresses together. They cost no
    /// thread — one thread drives every handshake — but a descriptor and, once the peer has
    /// sent its first bytes, OpenSSL's state. When the queue is full, the oldest connection that has
    /// sent nothing yet is closed to make room for the newcomer; if every pending peer has sent
    /// something, the newcomer is closed instead.
    public var maximumPendingHandshakes: Int
    /// TCP connections whose TLS handshake is under way from one IP address, with the same eviction
    /// as `maximumPendingHandshakes`. An honest client sends its hello at once, so a flood of idle
    /// connections from its own address (loopback, a NAT) cannot keep it out.
    public var maximumPendingHandshakesPerAddress: Int

    public init(host: String = "127.0.0.1", port: Int = 0, tls: TLSConfiguration, limits: FrameLimits = FrameLimits(),
                handshakeTimeout: Double = 10, idleTimeout: Double = 60, allowedPeers: Set<String>? = nil,
                allowedRoles: Set<CertificateRole>? = nil, maximumConnections: Int = 16_384, maximumConnectionsPerName: Int = 32,
                maximumHandlerThreads: Int = 64, maximumPendingHandshakes: Int = 1024, maximumPendingHandshakesPerAddress: Int = 128) {
        self.host = host
        self.port = port
        self.tls = tls
        self.limits = limits
        self.handshakeTimeout = handshakeTimeout
        self.idleTimeout = idleTimeout
        self.allowedPeers = allowedPeers
        self.allowedRoles = allowedRoles
        self.maximumConnections = maximumConnections
        self.maximumConnectionsPerName = maximumConnectionsPerName
        self.maximumHandlerThreads = maximumHandlerThreads
        self.maximumPendingHandshakes = maximumPendingHandshakes
        self.maximumPendingHandshakesPerAddress = maximumPendingHandshakesPerAddress
    }
}
