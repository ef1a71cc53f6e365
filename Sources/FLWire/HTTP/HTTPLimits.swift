/// The bounds an `HTTPServer` keeps, like `FrameServer`'s: what one request may hold and how long a
/// connection may take. Requests carry no body (only GET and HEAD are served), so the head is all there is.
public struct HTTPLimits: Sendable, Hashable {
    /// Bytes in the request line, CRLF excluded (414 beyond).
    public var maximumRequestLineBytes: Int
    /// Header fields in one request (431 beyond).
    public var maximumHeaderCount: Int
    /// Bytes of header fields after the request line, CRLFs included (431 beyond).
    public var maximumHeaderBytes: Int
    /// Connections served at once; one more gets a 503 and is closed.
    public var maximumConnections: Int
    /// Seconds from a request's first byte to its end, and to write its answer (408 beyond).
    public var requestTimeout: Double
    /// Seconds a kept-alive connection may wait for its next request before it is closed.
    public var idleTimeout: Double
    /// Seconds a TLS handshake may take.
    public var handshakeTimeout: Double

    public init(maximumRequestLineBytes: Int = 8192, maximumHeaderCount: Int = 64, maximumHeaderBytes: Int = 16384,
                maximumConnections: Int = 32, requestTimeout: Double = 10, idleTimeout: Double = 30, handshakeTimeout: Double = 10) {
        self.maximumRequestLineBytes = maximumRequestLineBytes
        self.maximumHeaderCount = maximumHeaderCount
        self.maximumHeaderBytes = maximumHeaderBytes
        self.maximumConnections = maximumConnections
        self.requestTimeout = requestTimeout
        self.idleTimeout = idleTimeout
        self.handshakeTimeout = handshakeTimeout
    }
}
