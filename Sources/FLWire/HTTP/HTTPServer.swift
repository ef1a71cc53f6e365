#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import FLCore
import FLPKI
import CShims

/// A small HTTP/1.1 server for read-only pages: GET and HEAD only, every request within `HTTPLimits`
/// (request line, header count and bytes, no body, connections at once, a deadline per request and
/// per idle keep-alive wait). Plain HTTP only on a loopback address; anywhere else it speaks mutual
/// TLS with the given context and admits certificates of the allowed roles only.
///
/// One thread accepts; each connection is served on its own thread, at most
/// `maximumConnections` of them — a dashboard has a handful of viewers, not thousands of peers.
public final class HTTPServer: Sendable {
    /// Answers one request; called on the connection's thread, so it must not block for long.
    public typealias Handler = @Sendable (HTTPRequest) -> HTTPResponse

    /// How the server listens.
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// Mutual TLS (a server context); nil serves plain HTTP, which only a loopback host may.
        public var tls: TLSContext?
        /// The certificate roles admitted over TLS.
        public var allowedRoles: Set<CertificateRole>
        public var limits: HTTPLimits

        public init(host: String, port: Int, tls: TLSContext? = nil, allowedRoles: Set<CertificateRole> = [.user, .admin],
                    limits: HTTPLimits = HTTPLimits()) {
            self.host = host
            self.port = port
            self.tls = tls
            self.allowedRoles = allowedRoles
            self.limits = limits
        }
    }

    public let configuration: Configuration
    /// The port bound (the one asked for, or the one picked for port 0).
    public let port: Int
    private let listenFD: Int32
    private let handler: Handler
    private let logger: Logger
    private let active = Mutex<Int>(0)
    private let stopped = Atomic<Bool>(false)
    private let acceptDone = DispatchSemaphore(value: 0)

    /// Binds the listening socket. Throws `HTTPServerError` for plain HTTP on a non-loopback host.
    public init(_ configuration: Configuration, logger: Logger = Logger(label: "http"), handler: @escaping Handler) throws {
        if configuration.tls == nil, !Self.isLoopback(configuration.host) {
            throw HTTPServerError("plain HTTP may only listen on a loopback address, not '\(configuration.host)': use TLS")
        }
        let (fd, port) = try Socket.listen(host: configuration.host, port: configuration.port, backlog: 64)
        self.configuration = configuration
        self.port = port
        self.listenFD = fd
        self.handler = handler
        self.logger = logger
    }

    /// Whether `host` names this machine's loopback interface: `localhost`, 127.0.0.0/8 or ::1.
    public static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" || host == "[::1]" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    /// Starts accepting on a thread of its own.
    public func start() {
        let thread = Thread { [self] in
            acceptLoop()
            acceptDone.signal()
        }
        thread.name = "http-accept"
        thread.start()
    }

    /// Stops accepting and closes the listening socket; connections being served finish their request.
    public func stop() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        // shutdown(2) wakes the accept thread's poll on Linux; it closes the socket once it has left.
        shutdown(listenFD, Int32(SHUT_RDWR))
        acceptDone.wait()
        Glibc.close(listenFD)
    }

    /// Connections being served now.
    public var activeConnections: Int { active.withLock { $0 } }

    private func acceptLoop() {
        while !stopped.load(ordering: .relaxed) {
            guard (try? Socket.wait(listenFD, for: Int16(POLLIN), deadline: .never, operation: "accept")) != nil else { return }
            if stopped.load(ordering: .relaxed) { return }
            let fd = fl_accept_cloexec(listenFD)
            if fd < 0 {
                if errno == EMFILE || errno == ENFILE { usleep(50_000) }  // out of descriptors: let some close
                continue
            }
            let admitted = active.withLock { count in
                guard count < configuration.limits.maximumConnections else { return false }
                count += 1
                return true
            }
            let peer = Socket.peerAddress(fd)
            let thread = Thread { [self] in
                if admitted {
                    serve(fd: fd, peer: peer)
                    active.withLock { $0 -= 1 }
                } else {
                    refuseBusy(fd: fd, peer: peer)
                }
            }
            thread.name = "http-connection"
            thread.start()
        }
    }

    /// Over the connection limit: a 503 (in plain text, or after the handshake) and close.
    private func refuseBusy(fd: Int32, peer: String) {
        guard let stream = try? open(fd: fd, peer: peer) else { return }
        defer { stream.close() }
        let error = HTTPRequestError(503, "more than \(configuration.limits.maximumConnections) connections at once; try again")
        send(error, on: stream)
    }

    /// Sends the answer to `error`; the caller closes the connection.
    private func send(_ error: HTTPRequestError, on stream: any ByteStream) {
        let bytes = HTTPResponse(error).serialized(keepAlive: false)
        try? bytes.withUnsafeBytes { try stream.write($0, deadline: .after(seconds: configuration.limits.requestTimeout)) }
    }

    /// The connection's stream: the socket itself, or a TLS connection after its handshake.
    private func open(fd: Int32, peer: String) throws -> (any ByteStream) {
        guard let tls = configuration.tls else { return PlainSocketStream(fd: fd, peer: peer) }
        return try TLSConnection.accept(fd: fd, context: tls, timeout: configuration.limits.handshakeTimeout)
    }

    private func serve(fd: Int32, peer: String) {
        let stream: any ByteStream
        do {
            stream = try open(fd: fd, peer: peer)
        } catch {
            logger.warning("dashboard connection from \(peer) refused: \(error)", ["peer": peer])
            return
        }
        defer { stream.close() }
        if let tls = stream as? TLSConnection,
           let refusal = PeerAuthorization.refusal(name: tls.peerName, role: tls.peerRole, allowed: configuration.allowedRoles) {
            logger.warning("dashboard connection refused: \(refusal)", ["peer": tls.peerName])
            send(HTTPRequestError(403, refusal), on: stream)
            return
        }
        HTTPConnection(stream: stream, limits: configuration.limits, handler: handler, isStopped: { [self] in stopped.load(ordering: .relaxed) })
            .run()
    }
}

/// An `HTTPServer` that cannot be set up as asked.
public struct HTTPServerError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
