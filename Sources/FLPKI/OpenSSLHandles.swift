#if canImport(Glibc)
import Glibc
#endif
// `package`: the TLS layer (FLWire) verifies peers with these handles too.
package import COpenSSL

// Each OpenSSL object the PKI keeps is owned by exactly one of these tiny classes, which frees it in
// `deinit`. The objects are never mutated after construction, and OpenSSL 3 guards the lazy caches
// it fills on read (extension flags, digests) with its own locks, so sharing them across threads
// through a value type is safe: hence `@unchecked Sendable`.

/// Owns an `X509*` (a certificate).
package final class X509Handle: @unchecked Sendable {
    package let pointer: OpaquePointer
    package init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { X509_free(pointer) }
}

/// Owns an `X509_REQ*` (a certificate signing request).
final class RequestHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { X509_REQ_free(pointer) }
}

/// Owns an `EVP_PKEY*` (a key pair, or a public key alone).
package final class KeyHandle: @unchecked Sendable {
    package let pointer: OpaquePointer
    package init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { EVP_PKEY_free(pointer) }
}

/// Owns an `X509_CRL*` (a certificate revocation list).
package final class CRLHandle: @unchecked Sendable {
    package let pointer: OpaquePointer
    package init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { X509_CRL_free(pointer) }
}

/// Owns one reference to an `X509_STORE*` (trusted certificates and CRLs for verification). A TLS
/// connection given the store with `SSL_set1_verify_cert_store` takes a reference of its own, so the
/// store outlives this handle for as long as a handshake still uses it; OpenSSL locks the store
/// internally, so many handshakes on many threads may verify against it at once.
package final class X509StoreHandle: @unchecked Sendable {
    package let pointer: OpaquePointer
    package init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { X509_STORE_free(pointer) }
}

/// PEM text in and out of OpenSSL through memory BIOs, which live only for the call.
enum PEMCodec {
    /// Runs `write` on a fresh memory BIO and returns what it wrote.
    static func encode(_ what: String, _ write: (OpaquePointer) -> Int32) throws -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { throw OpenSSLError("BIO_new") }
        defer { BIO_free(bio) }
        guard write(bio) == 1 else { throw OpenSSLError("write \(what) as PEM") }
        var data: UnsafeMutablePointer<CChar>?
        let n = fl_BIO_get_mem_data(bio, &data)
        guard n > 0, let data else { throw OpenSSLError("write \(what) as PEM", reasons: ["empty output"]) }
        return data.withMemoryRebound(to: UInt8.self, capacity: n) {
            String(decoding: UnsafeBufferPointer(start: $0, count: n), as: UTF8.self)
        }
    }

    /// Runs `read` on a read-only memory BIO over `bytes`; nil when `read` found nothing.
    static func decode(_ bytes: [UInt8], _ read: (OpaquePointer) -> OpaquePointer?) -> OpaquePointer? {
        bytes.withUnsafeBytes { raw -> OpaquePointer? in
            guard let base = raw.baseAddress, let bio = BIO_new_mem_buf(base, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            return read(bio)
        }
    }
}

/// Small conversions between OpenSSL's ASN.1 types and Swift values.
package enum ASN1 {
    /// The bytes of an `ASN1_STRING` (also an IA5String or OCTET STRING).
    package static func bytes(_ string: UnsafePointer<ASN1_STRING>) -> [UInt8] {
        let n = Int(ASN1_STRING_length(string))
        guard n > 0, let data = ASN1_STRING_get0_data(string) else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: n))
    }

    /// Seconds since 1970 of an `ASN1_TIME`.
    package static func seconds(_ time: UnsafePointer<ASN1_TIME>) -> Int? {
        var parts = tm()
        guard ASN1_TIME_to_tm(time, &parts) == 1 else { return nil }
        return Int(timegm(&parts))
    }

    /// A UTF-8 string from a name entry's data, whatever ASN.1 string type it was stored as.
    package static func utf8(_ string: UnsafePointer<ASN1_STRING>) -> String? {
        var out: UnsafeMutablePointer<UInt8>?
        let n = ASN1_STRING_to_UTF8(&out, string)
        guard n >= 0, let out else { return nil }
        defer { fl_OPENSSL_free(out) }
        return String(decoding: UnsafeBufferPointer(start: out, count: Int(n)), as: UTF8.self)
    }

    /// The common name of an `X509_NAME`, nil when it has none.
    package static func commonName(_ name: OpaquePointer?) -> String? {
        guard let name else { return nil }
        let index = X509_NAME_get_index_by_NID(name, NID_commonName, -1)
        guard index >= 0, let entry = X509_NAME_get_entry(name, index), let data = X509_NAME_ENTRY_get_data(entry) else { return nil }
        return utf8(data)
    }

    /// The subject alternative names in an OpenSSL `GENERAL_NAMES` stack: hosts in `names`, URIs
    /// (which carry roles) in `uris`; other kinds of name (email, directory name) are returned in
    /// `others`, described, so callers can refuse them.
    package static func alternativeNames(_ names: OpaquePointer) -> (names: [SubjectAlternativeName], uris: [String], others: [String]) {
        var out: [SubjectAlternativeName] = []
        var uris: [String] = []
        var others: [String] = []
        for i in 0..<fl_sk_GENERAL_NAME_num(names) {
            guard let name = fl_sk_GENERAL_NAME_value(names, i) else { continue }
            var type: Int32 = 0
            let value = GENERAL_NAME_get0_value(name, &type)
            switch (type, value) {
            case (GEN_DNS, let value?):
                out.append(.dnsName(String(decoding: bytes(value.assumingMemoryBound(to: ASN1_STRING.self)), as: UTF8.self)))
            case (GEN_IPADD, let value?):
                let raw = bytes(value.assumingMemoryBound(to: ASN1_STRING.self))
                if let text = IPAddress.text(raw) { out.append(.ipAddress(text)) } else { others.append("IP address of \(raw.count) bytes") }
            case (GEN_EMAIL, _): others.append("email address")
            case (GEN_URI, let value?):
                uris.append(String(decoding: bytes(value.assumingMemoryBound(to: ASN1_STRING.self)), as: UTF8.self))
            case (GEN_DIRNAME, _): others.append("directory name")
            default: others.append("name of type \(type)")
            }
        }
        return (out, uris, others)
    }

    /// The hosts and the SwiftFL role in certificate `x`'s subjectAltName. The role is nil when the
    /// certificate names none, or more than one (the CA never issues that, so trust neither).
    package static func subjectNames(of x: OpaquePointer) -> (hosts: [SubjectAlternativeName], role: CertificateRole?) {
        guard let raw = X509_get_ext_d2i(x, NID_subject_alt_name, nil, nil) else { return ([], nil) }
        defer { fl_GENERAL_NAMES_free(OpaquePointer(raw)) }
        let parsed = alternativeNames(OpaquePointer(raw))
        let roles = parsed.uris.filter { $0.hasPrefix(CertificateRole.uriPrefix) }
        return (parsed.names, roles.count == 1 ? CertificateRole(uri: roles[0]) : nil)
    }
}

/// IPv4 and IPv6 addresses in text and in the network-order bytes certificates carry.
enum IPAddress {
    /// The bytes of `text` when it is an IPv4 or IPv6 address.
    static func bytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    /// The canonical text of a 4- or 16-byte address.
    static func text(_ bytes: [UInt8]) -> String? {
        let family: Int32
        switch bytes.count {
        case 4: family = AF_INET
        case 16: family = AF_INET6
        default: return nil
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let ok = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil }
        guard ok else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension ASN1 {
    /// An ASN.1 INTEGER as uppercase hexadecimal, as `openssl x509 -serial` prints it.
    package static func hex(_ integer: UnsafePointer<ASN1_INTEGER>?) -> String? {
        guard let integer, let bn = ASN1_INTEGER_to_BN(integer, nil) else { return nil }
        defer { BN_free(bn) }
        guard let hex = BN_bn2hex(bn) else { return nil }
        defer { fl_OPENSSL_free(hex) }
        return String(cString: hex)
    }

    /// A new ASN.1 INTEGER from hexadecimal text; the caller frees it.
    static func integer(hex: String) throws -> UnsafeMutablePointer<ASN1_INTEGER> {
        guard !hex.isEmpty, hex.utf8.count <= 64, hex.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 70) || ($0 >= 97 && $0 <= 102) }) else {
            throw PKIError(.malformed, "'\(hex)' is not a serial number: expected 1-64 hexadecimal digits")
        }
        var bn: OpaquePointer?
        guard BN_hex2bn(&bn, hex) > 0, let bn else { throw OpenSSLError("BN_hex2bn") }
        defer { BN_free(bn) }
        guard let integer = BN_to_ASN1_INTEGER(bn, nil) else { throw OpenSSLError("BN_to_ASN1_INTEGER") }
        return integer
    }
}
