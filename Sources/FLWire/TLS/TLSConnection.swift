#if canImport(Glibc)
import FLPKI
import Glibc
#endif
import Synchronization
internal import COpenSSL
import CShims

/// One mutual-TLS 1.3 connection over a non-blocking TCP socket.
///
/// Thread safety: OpenSSL forbids two threads inside the same `SSL*` at once, so every OpenSSL
/// call on it happens under `sslLock`. The socket is non-blocking, so the lock is only held for
/// the call itself; waiting for readiness (`poll`) happens outside it. That lets one thread read
/// while another writes, which the framing layer relies on.
///
/// Ownership: the connection owns its `SSL*` and socket and frees both in `deinit`; `close()` only
/// shuts the socket down, so a thread still polling it wakes up instead of seeing a reused descriptor.
public final class TLSConnection: ByteStream, @unchecked Sendable {
    private let ssl: OpaquePointer
    private let fd: Int32
    private let sslLock = Mutex(())
    private let closed = Atomic<Bool>(false)
    /// Where a server counts its connections' bytes; nil for clients.
    private let traffic: TrafficCounter?
    /// The peer's address, for log lines.
    public let peerAddress: String
    /// The common name in the peer's verified certificate: its identity in the federation.
    public private(set) var peerName: String = ""
    /// The SwiftFL role in the peer's verified certificate; nil when it carries none.
    public private(set) var peerRole: CertificateRole?
    /// The serial number of the peer's verified certificate in uppercase hexadecimal, as
    /// `Certificate.serialNumber` and revocation lists have it.
    public private(set) var peerSerial: String = ""
    /// The negotiated cipher suite, e.g. `TLS_AES_128_GCM_SHA256`.
    public private(set) var cipherSuite: String = ""
    /// The negotiated protocol version, e.g. `TLSv1.3`.
    public private(set) var protocolVersion: String = ""

    private init(fd: Int32, context: TLSContext, peerAddress: String? = nil, traffic: TrafficCounter? = nil) throws {
        self.traffic = traffic
        guard let ssl = SSL_new(context.ctx) else {
            Glibc.close(fd)
            throw OpenSSLError("SSL_new")
        }
        self.ssl = ssl
        self.fd = fd
        self.peerAddress = peerAddress ?? Socket.peerAddress(fd)
        Socket.setNonBlocking(fd)
        SSL_set_fd(ssl, fd)
        // A peer that vanishes without close_notify (killed, network gone) reads as end-of-stream;
        // truncation is caught by the framing layer, which knows how many bytes it expects.
        SSL_set_options(ssl, fl_SSL_OP_IGNORE_UNEXPECTED_EOF())
        // The revocation list as it is on disk now; this connection keeps it to the end of its handshake.
        context.applyRevocationList(to: ssl)
    }

    deinit {
        SSL_free(ssl)
        Glibc.close(fd)
    }

    /// Connects to `host:port` and completes the handshake, verifying that the server's certificate
    /// is signed by the CA and names `host` (as a DNS name or IP address in its subjectAltName).
    public static func connect(host: String, port: Int, context: TLSContext, timeout: Double) throws -> TLSConnection {
        precondition(context.side == .client, "connect needs a client context")
        let deadline = Deadline.after(seconds: timeout)
        let fd = try Socket.connect(host: host, port: port, deadline: deadline)
        let connection = try TLSConnection(fd: fd, context: context)
        var probe = in6_addr()
        if inet_pton(AF_INET, host, &probe) == 1 || inet_pton(AF_INET6, host, &probe) == 1 {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(connection.ssl), host)
        } else {
            SSL_set1_host(connection.ssl, host)
            _ = fl_SSL_set_tlsext_host_name(connection.ssl, host)
        }
        SSL_set_connect_state(connection.ssl)
        try connection.handshake(deadline: deadline, peer: "\(host):\(port)")
        return connection
    }

    /// Completes the server side of the handshake on an accepted socket, blocking until it is done
    /// or `timeout` seconds pass. (`FrameServer` drives many handshakes at once on one thread with
    /// `serverSide` and `advanceHandshake` instead.)
    public static func accept(fd: Int32, context: TLSContext, timeout: Double) throws -> TLSConnection {
        let connection = try serverSide(fd: fd, context: context)
        try connection.handshake(deadline: .after(seconds: timeout), peer: connection.peerAddress)
        return connection
    }

    /// The server side of a connection on an accepted socket, its handshake not started: call
    /// `advanceHandshake()` whenever the socket is ready for what the previous step asked for. Takes
    /// ownership of `fd`, also when it throws.
    static func serverSide(fd: Int32, context: TLSContext, peerAddress: String? = nil, traffic: TrafficCounter? = nil) throws -> TLSConnection {
        precondition(context.side == .server, "accept needs a server context")
        let connection = try TLSConnection(fd: fd, context: context, peerAddress: peerAddress, traffic: traffic)
        SSL_set_accept_state(connection.ssl)
        return connection
    }

    /// Where a non-blocking handshake stands after one step.
    enum HandshakeProgress: Sendable, Equatable {
        /// The handshake is complete and the peer's certificate verified; `peerName` and the rest are set.
        case finished
        /// It waits for bytes from the peer (poll for `POLLIN`).
        case wantsRead
        /// It waits for room to send (poll for `POLLOUT`).
        case wantsWrite
    }

    /// The socket, for callers that poll it (while driving the handshake, or in an event loop with
    /// `readAvailable`). Never read from or write to it directly: the bytes on it are TLS records.
    public var descriptor: Int32 { fd }

    /// Takes the handshake as far as it can go without waiting; throws `TLSError.handshake` when it
    /// fails (a certificate refused, a protocol error, the peer gone).
    func advanceHandshake() throws -> HandshakeProgress {
        try advanceHandshake(peer: peerAddress)
    }

    private func advanceHandshake(peer: String) throws -> HandshakeProgress {
        let (rc, err, reasons, verify) = sslLock.withLock { _ -> (Int32, Int32, [String], Int) in
            let rc = SSL_do_handshake(ssl)
            if rc == 1 { return (rc, 0, [], 0) }
            let err = SSL_get_error(ssl, rc)
            return (rc, err, OpenSSLError.drainQueue(), SSL_get_verify_result(ssl))
        }
        if rc == 1 {
            try finishHandshake(peer: peer)
            return .finished
        }
        switch err {
        case SSL_ERROR_WANT_READ:
            return .wantsRead
        case SSL_ERROR_WANT_WRITE:
            return .wantsWrite
        default:
            var reason = reasons.joined(separator: "; ")
            if verify != X509_V_OK {
                reason = "certificate verification: \(String(cString: X509_verify_cert_error_string(verify)))" + (reason.isEmpty ? "" : " (\(reason))")
            }
            if reason.isEmpty { reason = err == SSL_ERROR_SYSCALL ? "connection closed during handshake" : "error \(err)" }
            throw TLSError.handshake(peer: peer, reason: reason)
        }
    }

    private func handshake(deadline: Deadline, peer: String) throws {
        while true {
            switch try advanceHandshake(peer: peer) {
            case .finished: return
            case .wantsRead: try waitReady(Int16(POLLIN), deadline: deadline, operation: "TLS handshake with \(peer)")
            case .wantsWrite: try waitReady(Int16(POLLOUT), deadline: deadline, operation: "TLS handshake with \(peer)")
            }
        }
    }

    private func finishHandshake(peer: String) throws {
        if let cert = fl_SSL_get_peer_certificate(ssl) {
            peerName = ASN1.commonName(X509_get_subject_name(cert)) ?? ""
            peerRole = ASN1.subjectNames(of: cert).role
            peerSerial = ASN1.hex(X509_get0_serialNumber(cert)) ?? ""
            X509_free(cert)
        }
        if let cipher = SSL_get_current_cipher(ssl), let name = SSL_CIPHER_get_name(cipher) {
            cipherSuite = String(cString: name)
        }
        if let version = SSL_get_version(ssl) { protocolVersion = String(cString: version) }
        guard !peerName.isEmpty else { throw TLSError.handshake(peer: peer, reason: "peer certificate has no common name") }
    }

    /// What a connection's error says when the peer refused this end's certificate.
    static let certificateRefused = "the peer refused this end's certificate"

    /// OpenSSL's reasons, led by a plain sentence when they report an alert from the peer. Under
    /// TLS 1.3 a server refuses a client's certificate after the client's handshake has finished,
    /// so this is how a client learns, on its first read, that its certificate was not accepted.
    static func explain(_ reasons: [String]) -> String {
        let joined = reasons.joined(separator: "; ")
        guard let range = joined.range(of: " alert ") else { return joined }
        var alert = Substring(joined[range.upperBound...].prefix { $0 != ";" && $0 != "(" })
        while alert.last == " " { alert.removeLast() }
        let refusals: Set<String> = ["certificate required", "unknown ca", "certificate expired", "bad certificate", "certificate revoked",
                                     "unsupported certificate", "certificate unknown", "access denied"]
        let summary = refusals.contains(String(alert))
            ? "\(certificateRefused) (TLS alert '\(alert)')"
            : "the peer ended the connection with TLS alert '\(alert)'"
        return "\(summary); OpenSSL: \(joined)"
    }

    private func waitReady(_ events: Int16, deadline: Deadline, operation: @autoclosure () -> String) throws {
        if closed.load(ordering: .relaxed) { throw TLSError.connection(peer: peerName.isEmpty ? peerAddress : peerName, reason: "closed") }
        try Socket.wait(fd, for: events, deadline: deadline, operation: operation())
    }

    private var peerLabel: String { peerName.isEmpty ? peerAddress : "\(peerName) (\(peerAddress))" }

    public func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Deadline) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            if closed.load(ordering: .relaxed) { return 0 }
            var got = 0
            let (rc, err, reasons) = sslLock.withLock { _ -> (Int32, Int32, [String]) in
                let rc = SSL_read_ex(ssl, base, buffer.count, &got)
                if rc == 1 { return (rc, 0, []) }
                let err = SSL_get_error(ssl, rc)
                return (rc, err, err == SSL_ERROR_SSL || err == SSL_ERROR_SYSCALL ? OpenSSLError.drainQueue() : [])
            }
            if rc == 1 {
                traffic?.addReceived(got)
                return got
            }
            switch err {
            case SSL_ERROR_ZERO_RETURN:
                return 0
            case SSL_ERROR_WANT_READ:
                try waitReady(Int16(POLLIN), deadline: deadline, operation: "read from \(peerLabel)")
            case SSL_ERROR_WANT_WRITE:
                try waitReady(Int16(POLLOUT), deadline: deadline, operation: "read from \(peerLabel)")
            case SSL_ERROR_SYSCALL where reasons.isEmpty:
                if closed.load(ordering: .relaxed) { return 0 }
                return 0
            default:
                if closed.load(ordering: .relaxed) { return 0 }
                throw TLSError.connection(peer: peerLabel, reason: reasons.isEmpty ? "TLS error \(err)" : TLSConnection.explain(reasons))
            }
        }
    }

    /// What a read that does not wait found.
    public enum ReadOutcome: Sendable, Equatable {
        /// This many bytes were read into the buffer.
        case bytes(Int)
        /// Nothing is there now: wait for the socket to become readable.
        case wouldBlock
        /// The peer closed the connection (or this end did).
        case end
    }

    /// Reads whatever is there without waiting, for event loops. Call it again until it says
    /// `.wouldBlock` before waiting on the socket: OpenSSL reads ahead, so records it already holds
    /// would never make the socket readable again. A read that needs to write first (a TLS key
    /// update with the send buffer full) also says `.wouldBlock`; the next bytes from the peer retry it.
    public func readAvailable(into buffer: UnsafeMutableRawBufferPointer) throws -> ReadOutcome {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return .bytes(0) }
        if closed.load(ordering: .relaxed) { return .end }
        var got = 0
        let (rc, err, reasons) = sslLock.withLock { _ -> (Int32, Int32, [String]) in
            let rc = SSL_read_ex(ssl, base, buffer.count, &got)
            if rc == 1 { return (rc, 0, []) }
            let err = SSL_get_error(ssl, rc)
            return (rc, err, err == SSL_ERROR_SSL || err == SSL_ERROR_SYSCALL ? OpenSSLError.drainQueue() : [])
        }
        if rc == 1 {
            traffic?.addReceived(got)
            return .bytes(got)
        }
        switch err {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .wouldBlock
        case SSL_ERROR_ZERO_RETURN:
            return .end
        case SSL_ERROR_SYSCALL where reasons.isEmpty:
            return .end
        default:
            if closed.load(ordering: .relaxed) { return .end }
            throw TLSError.connection(peer: peerLabel, reason: reasons.isEmpty ? "TLS error \(err)" : TLSConnection.explain(reasons))
        }
    }

    public func write(_ buffer: UnsafeRawBufferPointer, deadline: Deadline) throws {
        guard let base = buffer.baseAddress else { return }
        var offset = 0
        while offset < buffer.count {
            if closed.load(ordering: .relaxed) { throw TLSError.connection(peer: peerLabel, reason: "closed") }
            var written = 0
            let (rc, err, reasons) = sslLock.withLock { _ -> (Int32, Int32, [String]) in
                let rc = SSL_write_ex(ssl, base + offset, buffer.count - offset, &written)
                if rc == 1 { return (rc, 0, []) }
                let err = SSL_get_error(ssl, rc)
                return (rc, err, err == SSL_ERROR_SSL || err == SSL_ERROR_SYSCALL ? OpenSSLError.drainQueue() : [])
            }
            if rc == 1 {
                offset += written
                traffic?.addSent(written)
                continue
            }
            switch err {
            case SSL_ERROR_WANT_WRITE:
                try waitReady(Int16(POLLOUT), deadline: deadline, operation: "write to \(peerLabel)")
            case SSL_ERROR_WANT_READ:
                try waitReady(Int16(POLLIN), deadline: deadline, operation: "write to \(peerLabel)")
            case SSL_ERROR_ZERO_RETURN:
                throw TLSError.connection(peer: peerLabel, reason: "the peer closed the connection")
            default:
                let why = reasons.isEmpty ? (err == SSL_ERROR_SYSCALL ? String(cString: strerror(errno)) : "TLS error \(err)") : TLSConnection.explain(reasons)
                throw TLSError.connection(peer: peerLabel, reason: why)
            }
        }
    }

    public func close() {
        if closed.exchange(true, ordering: .acquiringAndReleasing) { return }
        sslLock.withLock { _ in
            // Best effort close_notify; the socket is non-blocking so this never waits.
            _ = SSL_shutdown(ssl)
        }
        shutdown(fd, Int32(SHUT_RDWR))
    }

    public var isClosed: Bool { closed.load(ordering: .relaxed) }

    /// Room in the socket's send buffer for `count` bytes and their TLS records' overhead (a record
    /// per 16 KiB, each well under the 4 KiB margin).
    public func canWriteWithoutWaiting(_ count: Int) -> Bool {
        !closed.load(ordering: .relaxed) && fl_socket_send_space(fd) >= count + 4096
    }
}
