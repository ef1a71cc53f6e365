internal import COpenSSL
import FLPKI

/// An X25519 key pair (RFC 7748) through OpenSSL's EVP_PKEY, kept as raw 32-byte strings: the
/// masking key's private half is secret-shared, so its raw bytes are needed anyway, and a value of
/// plain bytes is trivially Sendable.
package struct X25519KeyPair: Sendable, Hashable {
    /// Length of a private key, a public key and a shared secret.
    package static let byteCount = 32

    package var privateKey: [UInt8]
    package var publicKey: [UInt8]

    /// A fresh key pair from OpenSSL's generator.
    package static func generate() throws(SecureAggregationError) -> X25519KeyPair {
        guard let ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, nil) else { throw .crypto("EVP_PKEY_CTX_new_id(X25519)") }
        defer { EVP_PKEY_CTX_free(ctx) }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(ctx) == 1, EVP_PKEY_keygen(ctx, &key) == 1, let key else {
            throw .crypto("EVP_PKEY_keygen(X25519)")
        }
        defer { EVP_PKEY_free(key) }
        return X25519KeyPair(privateKey: try raw(key, private: true), publicKey: try raw(key, private: false))
    }

    /// The key pair whose private key is `privateKey` (its public key recomputed).
    package init(privateKey: [UInt8]) throws(SecureAggregationError) {
        let key = try Self.privateKeyHandle(privateKey)
        defer { EVP_PKEY_free(key) }
        self.init(privateKey: privateKey, publicKey: try Self.raw(key, private: false))
    }

    private init(privateKey: [UInt8], publicKey: [UInt8]) {
        self.privateKey = privateKey
        self.publicKey = publicKey
    }

    /// X25519(privateKey, peer): the 32-byte shared secret. Refuses a peer key of the wrong length
    /// and a low-order peer point (OpenSSL fails when the result is all zeros, which would give every
    /// such pair the same "secret").
    package func sharedSecret(with peer: [UInt8]) throws(SecureAggregationError) -> [UInt8] {
        guard peer.count == Self.byteCount else { throw .crypto("X25519 public key of \(peer.count) bytes, expected 32") }
        let mine = try Self.privateKeyHandle(privateKey)
        defer { EVP_PKEY_free(mine) }
        let theirs = peer.withUnsafeBufferPointer { EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nil, $0.baseAddress, 32) }
        guard let theirs else { throw .crypto("EVP_PKEY_new_raw_public_key(X25519)") }
        defer { EVP_PKEY_free(theirs) }
        guard let ctx = EVP_PKEY_CTX_new(mine, nil) else { throw .crypto("EVP_PKEY_CTX_new") }
        defer { EVP_PKEY_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: Self.byteCount)
        var length = out.count
        let ok = out.withUnsafeMutableBufferPointer { buffer in
            EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, theirs) == 1
                && EVP_PKEY_derive(ctx, buffer.baseAddress, &length) == 1
        }
        guard ok, length == Self.byteCount, out.contains(where: { $0 != 0 }) else { throw .crypto("EVP_PKEY_derive(X25519)") }
        return out
    }

    /// Why `key` is no X25519 public key to accept from a peer, or nil: it must be 32 bytes, the
    /// canonical encoding of u (top bit clear, u < 2^255 − 19: otherwise two encodings name one
    /// key), and not of small order (a trial agreement with a fresh key pair must not come out all
    /// zeros, which a point of small order gives whatever the other key).
    package static func publicKeyProblem(_ key: [UInt8]) -> String? {
        guard key.count == byteCount else { return "\(key.count) bytes, expected 32" }
        // u ≥ p = 2^255 − 19 (little-endian) only when the top byte is 0x7f, the middle 30 bytes
        // are 0xff and the lowest is at least 0xed; the top bit must be clear.
        if key[31] & 0x80 != 0 || (key[31] == 0x7f && key[1..<31].allSatisfy { $0 == 0xff } && key[0] >= 0xed) {
            return "not the canonical encoding of a curve point"
        }
        do {
            _ = try generate().sharedSecret(with: key)
        } catch {
            return "a point of small order (key agreement with it fails)"
        }
        return nil
    }

    private static func privateKeyHandle(_ bytes: [UInt8]) throws(SecureAggregationError) -> OpaquePointer {
        guard bytes.count == byteCount else { throw .crypto("X25519 private key of \(bytes.count) bytes, expected 32") }
        let key = bytes.withUnsafeBufferPointer { EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nil, $0.baseAddress, 32) }
        guard let key else { throw .crypto("EVP_PKEY_new_raw_private_key(X25519)") }
        return key
    }

    private static func raw(_ key: OpaquePointer, private: Bool) throws(SecureAggregationError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: byteCount)
        var length = out.count
        let ok = out.withUnsafeMutableBufferPointer {
            `private` ? EVP_PKEY_get_raw_private_key(key, $0.baseAddress, &length) : EVP_PKEY_get_raw_public_key(key, $0.baseAddress, &length)
        }
        guard ok == 1, length == byteCount else { throw .crypto(`private` ? "EVP_PKEY_get_raw_private_key" : "EVP_PKEY_get_raw_public_key") }
        return out
    }
}
