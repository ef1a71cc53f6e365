#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import FLCore
import FLPKI
internal import COpenSSL

/// The revocation list a `TLSContext` checks peers against, as it is on disk now.
///
/// Every new connection asks for `current()`, which costs one `stat`: when the file's identity
/// (device, inode, size, modification and change times) differs from the one loaded, the file is
/// read again, checked to be signed by the configured CA, and a fresh `X509_STORE` (the CA
/// certificates, the list, `X509_V_FLAG_CRL_CHECK`) replaces the old one. Connections take their own
/// reference to the store they were given (`SSL_set1_verify_cert_store`), so handshakes in flight
/// finish with the list they started with while new ones get the new list; no store is ever changed
/// after it is made, so none needs a lock of ours.
///
/// A list that fails to load after a change (half copied, signed by someone else, deleted) leaves
/// the previous one in force, and is reported once per version of the file, not once per connection.
final class RevocationListWatcher: @unchecked Sendable {
    /// What connections are checked against right now.
    struct Snapshot: Sendable {
        let store: X509StoreHandle
        /// Serial numbers (uppercase hex) of the revoked certificates.
        let revokedSerialNumbers: Set<String>
        /// Grows by one each time a changed list is loaded.
        let generation: Int
    }

    /// The identity of a version of a file: any rewrite or copy changes at least one of these.
    struct FileIdentity: Equatable {
        var device: UInt64 = 0, inode: UInt64 = 0, size: Int64 = 0
        var modified: timespec = timespec(), changed: timespec = timespec()

        static func == (a: FileIdentity, b: FileIdentity) -> Bool {
            a.device == b.device && a.inode == b.inode && a.size == b.size
                && a.modified.tv_sec == b.modified.tv_sec && a.modified.tv_nsec == b.modified.tv_nsec
                && a.changed.tv_sec == b.changed.tv_sec && a.changed.tv_nsec == b.changed.tv_nsec
        }

        /// The identity of `path` now; nil (with the reason) when it cannot be read.
        static func of(_ path: String) -> Result<FileIdentity, PKIError> {
            var st = stat()
            guard stat(path, &st) == 0 else {
                let e = errno
                return .failure(PKIError(e == ENOENT ? .notFound : .unreadable, path: path, "cannot read the certificate revocation list: \(String(cString: strerror(e)))"))
            }
            return .success(FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size),
                                         modified: st.st_mtim, changed: st.st_ctim))
        }
    }

    private struct State {
        var identity: FileIdentity
        var snapshot: Snapshot
        var loadedAt: Date
        /// The version of the file that last failed to load, so it is reported once.
        var failedIdentity: FileIdentity?
        var failure: String?
    }

    let path: String
    private let authorityPath: String
    /// The trusted CA certificates (every certificate in the CA file).
    private let authorities: [X509Handle]
    private let logger: Logger
    private let state: Mutex<State>

    /// Loads the list at `path`, which must be a CRL signed by a CA in `authorityPath`; throws
    /// `TLSError.configuration` naming the file otherwise.
    init(path: String, authorityPath: String, logger: Logger) throws {
        self.path = path
        self.authorityPath = authorityPath
        self.logger = logger
        authorities = try RevocationListWatcher.loadAuthorities(authorityPath)
        let identity: FileIdentity
        switch FileIdentity.of(path) {
        case let .success(found): identity = found
        case let .failure(error): throw TLSError.configuration("certificate revocation list: \(error)")
        }
        do {
            let (store, revoked) = try RevocationListWatcher.load(path, authorities: authorities, authorityPath: authorityPath)
            state = Mutex(State(identity: identity, snapshot: Snapshot(store: store, revokedSerialNumbers: revoked, generation: 0), loadedAt: Date()))
        } catch {
            throw TLSError.configuration("certificate revocation list: \(error)")
        }
    }

    /// The list to check a new connection against: reloaded first when the file changed.
    func current() -> Snapshot {
        let now = FileIdentity.of(path)
        return state.withLock { s in
            switch now {
            case let .success(identity):
                if identity == s.identity {
                    s.failure = nil
                    return s.snapshot
                }
                guard identity != s.failedIdentity else { return s.snapshot }
                do {
                    let (store, revoked) = try RevocationListWatcher.load(path, authorities: authorities, authorityPath: authorityPath)
                    s.snapshot = Snapshot(store: store, revokedSerialNumbers: revoked, generation: s.snapshot.generation + 1)
                    s.identity = identity
                    s.loadedAt = Date()
                    s.failedIdentity = nil
                    s.failure = nil
                    logger.info("reloaded the certificate revocation list \(path): \(revoked.count) revoked certificates", ["file": path])
                } catch {
                    // Reported once for this version of the file: `failedIdentity` skips it from now on.
                    s.failedIdentity = identity
                    report(&s, "\(error)")
                }
            case let .failure(error):
                // A missing or unreadable file has no version: report it once until the reason changes.
                if s.failure != "\(error)" { report(&s, "\(error)") }
            }
            return s.snapshot
        }
    }

    private func report(_ s: inout State, _ failure: String) {
        s.failure = failure
        logger.error("cannot reload the certificate revocation list: \(failure); still checking against the list loaded at \(s.loadedAt) "
                     + "(\(s.snapshot.revokedSerialNumbers.count) revoked certificates)", ["file": path])
    }

    private static func load(_ path: String, authorities: [X509Handle], authorityPath: String) throws -> (X509StoreHandle, Set<String>) {
        let list = try CertificateRevocationList.load(path: path)
        guard authorities.contains(where: { list.isSigned(by: $0.pointer) }) else {
            throw PKIError(.badSignature, path: path, "expected a certificate revocation list signed by the CA in \(authorityPath); "
                           + "this one names CN=\(list.issuerCommonName) as its issuer, and no CA certificate there verifies its signature")
        }
        guard let store = X509_STORE_new() else { throw OpenSSLError("X509_STORE_new") }
        let handle = X509StoreHandle(store)
        for authority in authorities {
            guard X509_STORE_add_cert(store, authority.pointer) == 1 else { throw OpenSSLError("add the CA certificate to a verification store") }
        }
        guard X509_STORE_add_crl(store, list.handle.pointer) == 1 else { throw OpenSSLError("add the revocation list to a verification store") }
        // Check the peer's own certificate against the list (the CA's certificate is the trust anchor).
        guard X509_STORE_set_flags(store, UInt(X509_V_FLAG_CRL_CHECK)) == 1 else { throw OpenSSLError("turn on revocation checks") }
        return (handle, list.revokedSerialNumbers)
    }

    private static func loadAuthorities(_ path: String) throws -> [X509Handle] {
        let bytes = try PKI.readFile(path, what: "CA certificate")
        var found: [X509Handle] = []
        bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress, let bio = BIO_new_mem_buf(base, Int32(raw.count)) else { return }
            defer { BIO_free(bio) }
            while let x = PEM_read_bio_X509(bio, nil, nil, nil) { found.append(X509Handle(x)) }
        }
        _ = OpenSSLError.drainQueue()  // the end of the file reads as an error
        guard !found.isEmpty else { throw TLSError.configuration("expected PEM certificates in the CA file '\(path)', found none") }
        return found
    }
}
