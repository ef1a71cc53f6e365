#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import FLCore
import CShims

/// How a `FrameServer` listens and what it accepts.
public struct ServerConfiguration: Sendable {
    public var host: String
    /// 0 picks a free port; read the chosen one from `FrameServer.port`.
    public var port: Int
    public var tls: TLSConfiguration
    public var limits: FrameLimits
    public var handshakeTimeout: Double
    /// A connection with no frame from the peer for this long is closed.
    public var idleTimeout: Double
    /// Certificate names allowed to connect; nil lets in anyone the CA vouches for.
    public var allowedPeers: Set<String>?
    /// Certificate roles allowed to connect; nil lets in any certificate, even one without a role.
    public var allowedRoles: Set<CertificateRole>?
    /// Connections above this number are refused at once.
    public var maximumConnections: Int

    public init(host: String = "127.0.0.1", port: Int = 0, tls: TLSConfiguration, limits: FrameLimits = FrameLimits(),
                handshakeTimeout: Double = 10, idleTimeout: Double = 60, allowedPeers: Set<String>? = nil,
                allowedRoles: Set<CertificateRole>? = nil, maximumConnections: Int = 10_000) {
        self.host = host
        self.port = port
        self.tls = tls
        self.limits = limits
        self.handshakeTimeout = handshakeTimeout
        self.idleTimeout = idleTimeout
        self.allowedPeers = allowedPeers
        self.allowedRoles = allowedRoles
        self.maximumConnections = maximumConnections
    }
}

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

/// An authenticated peer connected to a server.
public final class PeerConnection: Sendable, CustomStringConvertible {
    /// The common name of the peer's verified certificate.
    public let name: String
    /// The role in the peer's verified certificate; nil when it carries none.
    public let role: CertificateRole?
    public let address: String
    /// Distinguishes two connections of the same peer (e.g. before and after a reconnect).
    public let serial: UInt64
    let channel: FrameChannel
    let writeTimeout: Double

    init(name: String, role: CertificateRole?, address: String, serial: UInt64, channel: FrameChannel, writeTimeout: Double) {
        self.name = name
        self.role = role
        self.address = address
        self.serial = serial
        self.channel = channel
        self.writeTimeout = writeTimeout
    }

    /// Closes the connection; the peer sees it end.
    public func close() { channel.close() }

    public var description: String { "\(name) (\(role.map(\.rawValue) ?? "no role"), \(address))" }
}

/// One request from a peer.
public struct Request: Sendable {
    public let id: UInt32
    public let message: any WireMessage
    /// Tensor bytes that came with the request, to be read during `handle`.
    public let stream: InboundStream?
    public let peer: PeerConnection
    public var responder: Responder { Responder(peer: peer, id: id) }
}

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
}

/// A mutual-TLS server speaking SwiftFL frames: accepts connections on one thread, serves each
/// peer on a thread of its own (blocking I/O with deadlines, never on the Swift concurrency pool),
/// and keeps serving everyone else when one peer misbehaves.
public final class FrameServer: @unchecked Sendable {
    public let configuration: ServerConfiguration
    /// The port actually listened on.
    public let port: Int
    private let context: TLSContext
    private let handler: any FrameHandler
    private let logger: Logger
    private let listenFD: Int32
    private let wakePipe: (read: Int32, write: Int32)
    private let connections = Mutex<[UInt64: FrameChannel]>([:])
    private let nextSerial = Atomic<UInt64>(1)
    private let stopped = Atomic<Bool>(false)
    private let acceptDone = DispatchSemaphore(value: 0)

    /// Starts listening and accepting. Returns once the socket is bound.
    public init(configuration: ServerConfiguration, handler: any FrameHandler, logger: Logger) throws {
        self.configuration = configuration
        self.handler = handler
        self.logger = logger
        self.context = try TLSContext(configuration.tls, side: .server)
        let (fd, port) = try Socket.listen(host: configuration.host, port: configuration.port)
        self.listenFD = fd
        self.port = port
        var fds: [Int32] = [0, 0]
        guard fl_pipe_cloexec(&fds) == 0 else {
            Glibc.close(fd)
            throw TLSError.configuration("pipe: \(String(cString: strerror(errno)))")
        }
        for p in fds { Socket.setNonBlocking(p) }
        wakePipe = (fds[0], fds[1])
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "accept:\(port)"
        thread.stackSize = 256 << 10
        thread.start()
    }

    deinit {
        Glibc.close(listenFD)
        Glibc.close(wakePipe.read)
        Glibc.close(wakePipe.write)
    }

    /// Number of connections being served.
    public var connectionCount: Int { connections.withLock { $0.count } }

    /// Stops accepting and closes every connection. Idempotent.
    public func stop() {
        if stopped.exchange(true, ordering: .acquiringAndReleasing) { return }
        var one: UInt8 = 1
        _ = Glibc.write(wakePipe.write, &one, 1)
        acceptDone.wait()
        let open = connections.withLock { $0.values }
        for channel in open { channel.close() }
    }

    private func acceptLoop() {
        defer { acceptDone.signal() }
        var fds = [pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0), pollfd(fd: wakePipe.read, events: Int16(POLLIN), revents: 0)]
        while !stopped.load(ordering: .acquiring) {
            let rc = poll(&fds, 2, -1)
            if rc < 0 {
                if errno == EINTR { continue }
                logger.error("accept loop: poll failed: \(String(cString: strerror(errno)))")
                return
            }
            if fds[1].revents != 0 { return }
            while true {
                let fd = fl_accept_cloexec(listenFD)
                if fd < 0 {
                    if errno == EINTR || errno == ECONNABORTED { continue }
                    if errno == EMFILE || errno == ENFILE {
                        logger.error("cannot accept: out of file descriptors")
                    }
                    break
                }
                if connectionCount >= configuration.maximumConnections {
                    logger.warning("refusing connection from \(Socket.peerAddress(fd)): \(configuration.maximumConnections) connections already open")
                    Glibc.close(fd)
                    continue
                }
                Socket.setNoDelay(fd)
                let thread = Thread { [self] in serve(fd: fd) }
                thread.stackSize = 256 << 10
                thread.start()
            }
        }
    }

    private func serve(fd: Int32) {
        let address = Socket.peerAddress(fd)
        let connection: TLSConnection
        do {
            connection = try TLSConnection.accept(fd: fd, context: context, timeout: configuration.handshakeTimeout)
        } catch {
            logger.warning("refused connection from \(address): \(error)", ["peer": address])
            return
        }
        let channel = FrameChannel(stream: connection, limits: configuration.limits)
        let serial = nextSerial.add(1, ordering: .relaxed).oldValue
        let peer = PeerConnection(name: connection.peerName, role: connection.peerRole, address: address, serial: serial, channel: channel,
                                  writeTimeout: configuration.idleTimeout)
        defer { connection.close() }
        if let refusal = refusal(of: peer) {
            logger.warning("refused \(peer): \(refusal)", ["peer": peer.name])
            try? channel.send(ErrorReply(.notAllowed, refusal), id: 0, deadline: .after(seconds: 2))
            return
        }
        do {
            try handler.connected(peer)
        } catch {
            let reply = error as? ErrorReply ?? ErrorReply(.notAllowed, "\(error)")
            logger.warning("refused \(peer): \(reply.message)", ["peer": peer.name])
            try? channel.send(reply, id: 0, deadline: .after(seconds: 2))
            return
        }
        connections.withLock { $0[serial] = channel }
        if stopped.load(ordering: .acquiring) { channel.close() }
        defer {
            connections.withLock { _ = $0.removeValue(forKey: serial) }
            handler.disconnected(peer)
        }
        do {
            while true {
                guard let incoming = try channel.readMessage(deadline: .after(seconds: configuration.idleTimeout)) else { break }
                if incoming.message is Ping {
                    peer.responderFor(incoming.header.id).reply(OkReply())
                    continue
                }
                let stream = incoming.header.flags.contains(.stream)
                    ? InboundStream(channel: channel, id: incoming.header.id, byteCount: incoming.streamLength, idleTimeout: configuration.idleTimeout)
                    : nil
                handler.handle(Request(id: incoming.header.id, message: incoming.message, stream: stream, peer: peer))
                if let stream, !stream.isFinished { try stream.skipRest() }
            }
        } catch let error as TimeoutError {
            logger.info("closing idle connection of \(peer): \(error)", ["peer": peer.name])
        } catch {
            if !stopped.load(ordering: .relaxed) {
                logger.warning("closing connection of \(peer): \(error)", ["peer": peer.name])
            }
        }
    }
}

extension FrameServer {
    /// Why `peer` may not stay connected (its role or name), or nil when it may.
    func refusal(of peer: PeerConnection) -> String? {
        if let roles = configuration.allowedRoles {
            guard let role = peer.role else {
                return "the certificate of '\(peer.name)' carries no SwiftFL role; reissue it with a role: "
                    + "`fx pki certify --name \(peer.name) --role ROLE` or `fx pki sign --csr \(peer.name).csr --role ROLE` "
                    + "(this server takes \(CertificateRole.list(roles)))"
            }
            guard roles.contains(role) else {
                return "'\(peer.name)' holds a certificate of role \(role); this server takes \(CertificateRole.list(roles))"
            }
        }
        if let allowed = configuration.allowedPeers, !allowed.contains(peer.name) {
            return "certificate name '\(peer.name)' is not allowed on this server"
        }
        return nil
    }
}

extension PeerConnection {
    func responderFor(_ id: UInt32) -> Responder { Responder(peer: self, id: id) }
}
