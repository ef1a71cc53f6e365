import Foundation
import FLCore
internal import COpenSSL

/// An X.509 certificate and what SwiftFL reads from it. Loading checks only that it parses; trust
/// is decided by TLS verification against the CA (or `CertificateAuthority.verify`).
public struct Certificate: Sendable, CustomStringConvertible {
    package let handle: X509Handle

    /// The subject's common name: a participant's identity in the federation.
    public let commonName: String
    /// The issuer's common name (the CA's name; equal to `commonName` for a self-signed CA).
    public let issuerCommonName: String
    /// DNS names and IP addresses the certificate is valid for, in certificate order.
    public let subjectAlternativeNames: [SubjectAlternativeName]
    /// The holder's role in the federation; nil for a certificate without one (issued before roles
    /// existed, or by another tool), which SwiftFL's servers refuse.
    public let role: CertificateRole?
    /// Start of the validity period.
    public let notBefore: Date
    /// End of the validity period.
    public let notAfter: Date
    /// Serial number in uppercase hexadecimal.
    public let serialNumber: String
    /// SHA-256 of the DER encoding as colon-separated uppercase hex, as
    /// `openssl x509 -noout -fingerprint -sha256` prints it: compare it out of band.
    public let fingerprint: String
    /// Whether basicConstraints marks it as a CA.
    public let isCertificateAuthority: Bool
    /// The TLS purposes in its extended key usage; nil when it has no such extension (any purpose).
    public let extendedKeyUsage: Set<ExtendedKeyUsage>?
    /// The certificate as PEM text.
    public let pem: String

    /// Reads the first certificate of a PEM file.
    public static func load(path: String) throws -> Certificate {
        try Certificate(pem: PKI.readFile(path, what: "certificate"), path: path)
    }

    /// Parses the first certificate in PEM text; `path` only names the source in errors.
    public init(pem: some Collection<UInt8>, path: String? = nil) throws {
        guard let x509 = PEMCodec.decode(Array(pem), { PEM_read_bio_X509($0, nil, nil, nil) }) else {
            throw PKIError(.malformed, path: path, "expected a PEM certificate ('-----BEGIN CERTIFICATE-----')",
                           openSSLReasons: OpenSSLError.drainQueue())
        }
        try self.init(handle: X509Handle(x509), path: path)
    }

    init(handle: X509Handle, path: String? = nil) throws {
        let x = handle.pointer
        self.handle = handle
        guard let cn = ASN1.commonName(X509_get_subject_name(x)), !cn.isEmpty else {
            throw PKIError(.malformed, path: path, "the certificate's subject has no common name")
        }
        commonName = cn
        issuerCommonName = ASN1.commonName(X509_get_issuer_name(x)) ?? ""
        (subjectAlternativeNames, role) = ASN1.subjectNames(of: x)
        guard let start = ASN1.seconds(X509_get0_notBefore(x)), let end = ASN1.seconds(X509_get0_notAfter(x)) else {
            throw PKIError(.malformed, path: path, "the certificate's validity dates do not parse")
        }
        notBefore = Date(timeIntervalSince1970: Double(start))
        notAfter = Date(timeIntervalSince1970: Double(end))
        serialNumber = Certificate.serialHex(x) ?? ""
        fingerprint = try Certificate.sha256Fingerprint(x)
        let flags = X509_get_extension_flags(x)
        isCertificateAuthority = flags & UInt32(EXFLAG_CA) != 0
        if flags & UInt32(EXFLAG_XKUSAGE) != 0 {
            let usage = X509_get_extended_key_usage(x)
            var set: Set<ExtendedKeyUsage> = []
            if usage & UInt32(XKU_SSL_SERVER) != 0 { set.insert(.serverAuth) }
            if usage & UInt32(XKU_SSL_CLIENT) != 0 { set.insert(.clientAuth) }
            extendedKeyUsage = set
        } else {
            extendedKeyUsage = nil
        }
        pem = try PEMCodec.encode("certificate") { PEM_write_bio_X509($0, x) }
    }

    /// Writes the certificate as PEM to `path` atomically (mode 0644: certificates are public).
    public func write(to path: String) throws {
        try AtomicFile.write(string: pem, to: path, permissions: 0o644)
    }

    /// Whether `date` lies in the validity period.
    public func isValid(at date: Date = Date()) -> Bool { notBefore <= date && date <= notAfter }

    /// Whether `key` is the private half of this certificate's public key.
    public func matches(_ key: PrivateKey) -> Bool {
        let ok = X509_check_private_key(handle.pointer, key.handle.pointer) == 1
        _ = OpenSSLError.drainQueue()
        return ok
    }

    public var description: String {
        var text = "CN=\(commonName), role \(role.map(\.rawValue) ?? "none"), issued by CN=\(issuerCommonName), valid \(notBefore) to \(notAfter)"
        if !subjectAlternativeNames.isEmpty { text += ", names \(subjectAlternativeNames.map(\.description).joined(separator: ","))" }
        if isCertificateAuthority { text += ", CA" }
        return text + ", SHA-256 \(fingerprint)"
    }

    static func serialHex(_ x: OpaquePointer) -> String? { ASN1.hex(X509_get0_serialNumber(x)) }

    static func sha256Fingerprint(_ x: OpaquePointer) throws -> String {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(x, EVP_sha256(), &digest, &length) == 1 else { throw OpenSSLError("SHA-256 fingerprint of a certificate") }
        return Certificate.colonHex(digest.prefix(Int(length)))
    }

    static func colonHex(_ bytes: some Collection<UInt8>) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 3)
        for b in bytes {
            if !out.isEmpty { out.append(UInt8(ascii: ":")) }
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
