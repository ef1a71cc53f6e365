import Foundation
import FLCore
internal import COpenSSL

// Signing with a participant's own key and checking a peer's certificate without a TLS handshake:
// secure aggregation relays each site's public keys through the aggregator, and a site must know
// the keys it is given are its peers' own.

extension PrivateKey {
    /// A signature over `message` with SHA-256 (ECDSA, DER-encoded, for SwiftFL's EC keys; PKCS#1
    /// v1.5 for an RSA key).
    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        guard let context = EVP_MD_CTX_new() else { throw OpenSSLError("allocate a digest context") }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestSignInit(context, nil, EVP_sha256(), nil, handle.pointer) == 1 else { throw OpenSSLError("start a SHA-256 signature") }
        var length = 0
        guard EVP_DigestSign(context, nil, &length, message, message.count) == 1 else { throw OpenSSLError("size a signature") }
        var signature = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(context, &signature, &length, message, message.count) == 1 else { throw OpenSSLError("sign") }
        return Array(signature.prefix(length))
    }
}

extension Certificate {
    /// Whether `signature` is this certificate's key's SHA-256 signature over `message` (what
    /// `PrivateKey.sign(_:)` makes with the matching key).
    public func verifySignature(_ signature: [UInt8], over message: [UInt8]) -> Bool {
        defer { _ = OpenSSLError.drainQueue() }
        guard let key = X509_get0_pubkey(handle.pointer), let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, EVP_sha256(), nil, key) == 1 else { return false }
        return EVP_DigestVerify(context, signature, signature.count, message, message.count) == 1
    }

    /// Whether `authority` issued this certificate: its issuer name is the authority's subject and
    /// the authority's key verifies its signature (trust only: validity dates are `isValid(at:)`'s).
    public func isIssued(by authority: Certificate) -> Bool {
        defer { _ = OpenSSLError.drainQueue() }
        guard X509_check_issued(authority.handle.pointer, handle.pointer) == X509_V_OK,
              let key = X509_get0_pubkey(authority.handle.pointer) else { return false }
        return X509_verify(handle.pointer, key) == 1
    }

    /// The certificate's DER encoding (smaller than `pem` on the wire).
    public var der: [UInt8] {
        let length = i2d_X509(handle.pointer, nil)
        guard length > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: Int(length))
        out.withUnsafeMutableBufferPointer { buffer in
            var cursor = buffer.baseAddress
            _ = i2d_X509(handle.pointer, &cursor)
        }
        return out
    }

    /// Parses a DER certificate (all of `der`, nothing after it); `path` only names the source in errors.
    public init(der: [UInt8], path: String? = nil) throws {
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor = buffer.baseAddress
            guard let x509 = d2i_X509(nil, &cursor, buffer.count) else { return nil }
            guard cursor == buffer.baseAddress.map({ $0 + buffer.count }) else { X509_free(x509); return nil }
            return x509
        }
        guard let x509 = parsed else {
            throw PKIError(.malformed, path: path, "expected a DER certificate", openSSLReasons: OpenSSLError.drainQueue())
        }
        try self.init(handle: X509Handle(x509), path: path)
    }
}
