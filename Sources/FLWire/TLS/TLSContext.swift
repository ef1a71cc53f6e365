#if canImport(Glibc)
import Glibc
#endif
import FLCore
import FLPKI
internal import COpenSSL

/// An OpenSSL `SSL_CTX` configured for SwiftFL's mutual TLS: TLS 1.3 only, the federation CA as the
/// only trust anchor, peer certificates required and checked for the right purpose, and — when the
/// configuration names a revocation list — checked against that list as it is on disk when each
/// connection starts (`RevocationListWatcher`).
///
/// Ownership: the context owns its `SSL_CTX*` and frees it in `deinit`. OpenSSL allows one context
/// to be shared by many connections on many threads once it is configured, which is all we do.
public final class TLSContext: @unchecked Sendable {
    public enum Side: Sendable { case server, client }

    let ctx: OpaquePointer
    public let side: Side
    public let configuration: TLSConfiguration
    /// The revocation list in force; nil when the configuration names none.
    let revocation: RevocationListWatcher?

    /// A context for `side`. `logger` reports revocation lists reloaded, or failing to reload.
    public convenience init(_ configuration: TLSConfiguration, side: Side, logger: Logger = Logger(label: "tls")) throws {
        try self.init(configuration, side: side, presentsCertificate: true, logger: logger)
    }

    /// `presentsCertificate: false` makes a client that offers no certificate: tests use it to
    /// check that servers refuse such clients. Production code never needs it.
    init(_ configuration: TLSConfiguration, side: Side, presentsCertificate: Bool, logger: Logger = Logger(label: "tls")) throws {
        precondition(presentsCertificate || side == .client, "a server always presents a certificate")
        TLSContext.ignoreBrokenPipes()
        self.side = side
        self.configuration = configuration
        if let path = configuration.revocationListPath {
            try TLSContext.requireReadable(configuration.caCertificatePath, what: "CA certificate")
            revocation = try RevocationListWatcher(path: path, authorityPath: configuration.caCertificatePath, logger: logger)
        } else {
            revocation = nil
        }
        guard let ctx = SSL_CTX_new(side == .server ? TLS_server_method() : TLS_client_method()) else {
            throw OpenSSLError("SSL_CTX_new")
        }
        self.ctx = ctx
        // From here on `deinit` frees ctx, also when a later step throws.
        try check(fl_SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) == 1, "require TLS 1.3")
        try check(fl_SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) == 1, "require TLS 1.3")
        try check(SSL_CTX_set_ciphersuites(ctx, configuration.cipherSuites) == 1, "set cipher suites '\(configuration.cipherSuites)'")
        try TLSContext.requireReadable(configuration.caCertificatePath, what: "CA certificate")
        if presentsCertificate {
            try TLSContext.requireReadable(configuration.certificatePath, what: "certificate")
            try TLSContext.requireReadable(configuration.privateKeyPath, what: "private key")
            try check(SSL_CTX_use_certificate_chain_file(ctx, configuration.certificatePath) == 1,
                      "load certificate \(configuration.certificatePath)")
            try check(SSL_CTX_use_PrivateKey_file(ctx, configuration.privateKeyPath, SSL_FILETYPE_PEM) == 1,
                      "load private key \(configuration.privateKeyPath)")
            try check(SSL_CTX_check_private_key(ctx) == 1,
                      "match private key \(configuration.privateKeyPath) to certificate \(configuration.certificatePath)")
        }
        try check(SSL_CTX_load_verify_locations(ctx, configuration.caCertificatePath, nil) == 1,
                  "load CA certificate \(configuration.caCertificatePath)")
        let param = SSL_CTX_get0_param(ctx)
        if revocation != nil {
            // Each connection gets the current list's store; a connection somehow left without one
            // fails closed ("unable to get certificate CRL") rather than skipping the check.
            X509_VERIFY_PARAM_set_flags(param, UInt(X509_V_FLAG_CRL_CHECK))
        }
        switch side {
        case .server:
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
            X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_CLIENT)
            if let names = SSL_load_client_CA_file(configuration.caCertificatePath) {
                SSL_CTX_set_client_CA_list(ctx, names)
            }
            // No session resumption: connections are long-lived, and tickets would cost the client a read.
            SSL_CTX_set_num_tickets(ctx, 0)
            _ = fl_SSL_CTX_set_session_cache_mode(ctx, 0)
        case .client:
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
            X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER)
        }
        var mode = fl_SSL_MODE_ENABLE_PARTIAL_WRITE() | fl_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER()
        if configuration.releaseIdleBuffers { mode |= fl_SSL_MODE_RELEASE_BUFFERS() }
        _ = fl_SSL_CTX_set_mode_bits(ctx, mode)
        // Read ahead with a large buffer: one read(2) brings in many TLS records instead of two
        // syscalls (header, body) per 16 KiB record.
        _ = fl_SSL_CTX_set_read_ahead(ctx, 1)
        SSL_CTX_set_default_read_buffer_len(ctx, 256 * 1024)
    }

    deinit { SSL_CTX_free(ctx) }

    /// Writing to a socket whose peer has gone raises SIGPIPE, whose default action ends the
    /// process, and OpenSSL's socket BIO writes with write(2), which cannot ask for MSG_NOSIGNAL.
    /// A vanished peer must be an error on its own connection, never the end of a server, so the
    /// signal is ignored process-wide before any TLS connection exists. Children started with
    /// `ChildProcess` get the default action back.
    private static let brokenPipesIgnored: Bool = {
        signal(SIGPIPE, SIG_IGN)
        return true
    }()

    static func ignoreBrokenPipes() { _ = brokenPipesIgnored }

    private func check(_ ok: Bool, _ what: String) throws {
        if !ok { throw OpenSSLError(what) }
    }

    /// Gives a new connection's `SSL*` the revocation list as it is on disk now (nothing when the
    /// configuration names none).
    func applyRevocationList(to ssl: OpaquePointer) {
        guard let revocation else { return }
        _ = fl_SSL_set1_verify_cert_store(ssl, revocation.current().store.pointer)
    }

    private static func requireReadable(_ path: String, what: String) throws {
        if access(path, R_OK) != 0 {
            throw TLSError.configuration("cannot read \(what) '\(path)': \(String(cString: strerror(errno)))")
        }
    }
}

/// A TLS connection that could not be set up or used, with what the user can act on.
public enum TLSError: Error, Sendable, CustomStringConvertible {
    case configuration(String)
    /// The handshake failed; `reason` includes certificate verification results.
    case handshake(peer: String, reason: String)
    /// The peer closed the connection or it failed mid-stream.
    case connection(peer: String, reason: String)
    /// Connecting to the peer failed.
    case connect(address: String, reason: String)
    /// The server's certificate is valid but names someone other than the one dialled.
    case unexpectedPeer(address: String, reason: String)

    /// Whether retrying cannot mend it: a certificate one side refuses (unknown CA, expired,
    /// revoked, no or the wrong role) or a server that is not the one dialled. Under TLS 1.3 a
    /// server refuses the client's certificate after the client's handshake has finished, so such a
    /// refusal can also arrive as a failed first read.
    public var isCertificateRefusal: Bool {
        switch self {
        case let .handshake(_, reason): reason.contains("certificate") || reason.contains("alert")
        case let .connection(_, reason): reason.contains(TLSConnection.certificateRefused)
        case .unexpectedPeer: true
        case .configuration, .connect: false
        }
    }

    public var description: String {
        switch self {
        case let .configuration(r): "TLS configuration: \(r)"
        case let .handshake(peer, r): "TLS handshake with \(peer) failed: \(r)"
        case let .connection(peer, r): "connection to \(peer): \(r)"
        case let .connect(address, r): "cannot connect to \(address): \(r)"
        case let .unexpectedPeer(address, r): "the server at \(address) is not the one expected: \(r)"
        }
    }
}
