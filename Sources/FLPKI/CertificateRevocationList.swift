#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FLCore
internal import COpenSSL

/// An X.509 v2 certificate revocation list (CRL): the serial numbers of certificates a CA has
/// withdrawn before they expire, signed by that CA. `CertificateAuthority` writes one (`crl.pem`);
/// `TLSConfiguration.revocationListPath` makes both ends of every connection refuse certificates
/// listed in it.
///
/// Loading checks only that it parses; whether the CA signed it is `isSigned(by:)`.
public struct CertificateRevocationList: Sendable, CustomStringConvertible {
    /// One withdrawn certificate.
    public struct Entry: Sendable, Hashable {
        /// Serial number in uppercase hexadecimal, as `Certificate.serialNumber` has it.
        public var serialNumber: String
        /// When it was revoked.
        public var revocationDate: Date
    }

    package let handle: CRLHandle

    /// The issuer's common name (the CA's).
    public let issuerCommonName: String
    /// When the list was made.
    public let lastUpdate: Date
    /// When a newer list is due; nil when the list does not say.
    public let nextUpdate: Date?
    /// The revoked certificates, in the list's order.
    public let entries: [Entry]
    /// Serial numbers of `entries`, for lookups.
    public let revokedSerialNumbers: Set<String>
    /// The list as PEM text.
    public let pem: String

    /// Largest CRL file read: about 25,000 entries.
    static let maximumFileSize = 1 << 20

    /// Reads a PEM CRL (`-----BEGIN X509 CRL-----`).
    public static func load(path: String) throws -> CertificateRevocationList {
        try CertificateRevocationList(pem: PKI.readFile(path, what: "certificate revocation list", limit: maximumFileSize), path: path)
    }

    /// Parses PEM text; `path` only names the source in errors.
    public init(pem: some Collection<UInt8>, path: String? = nil) throws {
        guard let crl = PEMCodec.decode(Array(pem), { PEM_read_bio_X509_CRL($0, nil, nil, nil) }) else {
            throw PKIError(.malformed, path: path, "expected a PEM certificate revocation list ('-----BEGIN X509 CRL-----')",
                           openSSLReasons: OpenSSLError.drainQueue())
        }
        try self.init(handle: CRLHandle(crl), path: path)
    }

    init(handle: CRLHandle, path: String? = nil) throws {
        let crl = handle.pointer
        self.handle = handle
        issuerCommonName = ASN1.commonName(X509_CRL_get_issuer(crl)) ?? ""
        guard let last = X509_CRL_get0_lastUpdate(crl), let lastSeconds = ASN1.seconds(last) else {
            throw PKIError(.malformed, path: path, "the revocation list's lastUpdate date does not parse")
        }
        lastUpdate = Date(timeIntervalSince1970: Double(lastSeconds))
        nextUpdate = X509_CRL_get0_nextUpdate(crl).flatMap(ASN1.seconds).map { Date(timeIntervalSince1970: Double($0)) }
        var entries: [Entry] = []
        if let revoked = X509_CRL_get_REVOKED(crl) {
            let count = fl_sk_X509_REVOKED_num(revoked)
            entries.reserveCapacity(Int(max(0, count)))
            for i in 0..<count {
                guard let entry = fl_sk_X509_REVOKED_value(revoked, i),
                      let serial = ASN1.hex(X509_REVOKED_get0_serialNumber(entry)),
                      let date = X509_REVOKED_get0_revocationDate(entry).flatMap(ASN1.seconds)
                else { throw PKIError(.malformed, path: path, "entry \(i + 1) of the revocation list has no readable serial number or date") }
                entries.append(Entry(serialNumber: serial, revocationDate: Date(timeIntervalSince1970: Double(date))))
            }
        }
        self.entries = entries
        revokedSerialNumbers = Set(entries.map(\.serialNumber))
        pem = try PEMCodec.encode("certificate revocation list") { PEM_write_bio_X509_CRL($0, crl) }
    }

    /// Whether `authority` issued this list: same issuer name, and its key verifies the signature.
    public func isSigned(by authority: Certificate) -> Bool {
        isSigned(by: authority.handle.pointer)
    }

    package func isSigned(by authority: OpaquePointer) -> Bool {
        defer { _ = OpenSSLError.drainQueue() }
        guard let key = X509_get0_pubkey(authority),
              X509_NAME_cmp(X509_CRL_get_issuer(handle.pointer), X509_get_subject_name(authority)) == 0 else { return false }
        return X509_CRL_verify(handle.pointer, key) == 1
    }

    /// Whether the certificate with serial number `serialNumber` (hexadecimal) is revoked.
    public func isRevoked(serialNumber: String) -> Bool { revokedSerialNumbers.contains(serialNumber.uppercased()) }

    /// Writes the list as PEM to `path` atomically (mode 0644: revocation lists are public).
    public func write(to path: String) throws {
        try AtomicFile.write(string: pem, to: path, permissions: 0o644)
    }

    public var description: String {
        "CRL of CN=\(issuerCommonName), \(entries.count) revoked, made \(lastUpdate)" + (nextUpdate.map { ", next update \($0)" } ?? "")
    }

    /// Makes and signs a v2 list of `entries` as `issuer` with `key` (ECDSA or RSA with SHA-256),
    /// carrying an authority key identifier and a CRL number.
    static func make(issuer: Certificate, key: PrivateKey, entries: [Entry], lastUpdate: Date, nextUpdate: Date,
                     number: Int) throws -> CertificateRevocationList {
        guard let crl = X509_CRL_new() else { throw OpenSSLError("X509_CRL_new") }
        let handle = CRLHandle(crl)
        guard X509_CRL_set_version(crl, 1) == 1,  // 1 means v2, which extensions need
              X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer.handle.pointer)) == 1
        else { throw OpenSSLError("fill in the revocation list") }
        try setTime(lastUpdate, "lastUpdate") { X509_CRL_set1_lastUpdate(crl, $0) }
        try setTime(nextUpdate, "nextUpdate") { X509_CRL_set1_nextUpdate(crl, $0) }
        for entry in entries {
            guard let revoked = X509_REVOKED_new() else { throw OpenSSLError("X509_REVOKED_new") }
            do {
                let serial = try ASN1.integer(hex: entry.serialNumber)
                defer { ASN1_INTEGER_free(serial) }
                guard X509_REVOKED_set_serialNumber(revoked, serial) == 1 else { throw OpenSSLError("set a revoked serial number") }
                try setTime(entry.revocationDate, "revocationDate") { X509_REVOKED_set_revocationDate(revoked, UnsafeMutablePointer(mutating: $0)) }
            } catch {
                X509_REVOKED_free(revoked)
                throw error
            }
            // The list takes ownership of the entry.
            guard X509_CRL_add0_revoked(crl, revoked) == 1 else {
                X509_REVOKED_free(revoked)
                throw OpenSSLError("add a revoked certificate")
            }
        }
        guard X509_CRL_sort(crl) == 1 else { throw OpenSSLError("sort the revocation list") }

        var context = X509V3_CTX()
        X509V3_set_ctx(&context, issuer.handle.pointer, nil, nil, crl, 0)
        _ = fl_X509V3_set_ctx_nodb(&context)
        guard let keyIdentifier = X509V3_EXT_conf_nid(nil, &context, NID_authority_key_identifier, "keyid:always") else {
            throw OpenSSLError("make the CRL's authorityKeyIdentifier")
        }
        defer { X509_EXTENSION_free(keyIdentifier) }
        guard X509_CRL_add_ext(crl, keyIdentifier, -1) == 1 else { throw OpenSSLError("add the CRL's authorityKeyIdentifier") }
        guard let crlNumber = ASN1_INTEGER_new() else { throw OpenSSLError("ASN1_INTEGER_new") }
        defer { ASN1_INTEGER_free(crlNumber) }
        guard ASN1_INTEGER_set_int64(crlNumber, Int64(number)) == 1,
              X509_CRL_add1_ext_i2d(crl, NID_crl_number, UnsafeMutableRawPointer(crlNumber), 0, 0) == 1
        else { throw OpenSSLError("add the CRL number") }

        guard X509_CRL_sign(crl, key.handle.pointer, EVP_sha256()) > 0 else { throw OpenSSLError("sign the revocation list") }
        return try CertificateRevocationList(handle: handle)
    }

    private static func setTime(_ date: Date, _ what: String, _ set: (UnsafePointer<ASN1_TIME>) -> Int32) throws {
        guard let time = ASN1_TIME_set(nil, time_t(date.timeIntervalSince1970.rounded(.down))) else { throw OpenSSLError("make \(what) \(date)") }
        defer { ASN1_TIME_free(time) }
        guard set(time) == 1 else { throw OpenSSLError("set \(what) \(date)") }
    }
}
