#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
internal import COpenSSL

/// One AES-256-CTR keystream, read in successive pieces: alive for one expansion and used by one
/// thread (an OpenSSL cipher context is not shareable).
package final class AESCTRStream {
    private let ctx: OpaquePointer

    /// The stream under `key` (32 bytes) from the counter block `counter` (16 bytes).
    package init(key: [UInt8], counter: [UInt8]) throws(SecureAggregationError) {
        guard key.count == 32, counter.count == 16 else { throw .crypto("AES-256-CTR needs a 32-byte key and a 16-byte counter block") }
        guard let ctx = EVP_CIPHER_CTX_new() else { throw .crypto("EVP_CIPHER_CTX_new") }
        guard EVP_EncryptInit_ex(ctx, EVP_aes_256_ctr(), nil, key, counter) == 1 else {
            EVP_CIPHER_CTX_free(ctx)
            throw .crypto("EVP_EncryptInit_ex(AES-256-CTR)")
        }
        self.ctx = ctx
    }

    deinit { EVP_CIPHER_CTX_free(ctx) }

    /// out = input XOR the next `count` bytes of keystream (`out` may be `input`).
    package func encrypt(_ out: UnsafeMutableRawPointer, from input: UnsafeRawPointer, count: Int) throws(SecureAggregationError) {
        var written: Int32 = 0
        let ok = EVP_EncryptUpdate(ctx, out.assumingMemoryBound(to: UInt8.self), &written, input.assumingMemoryBound(to: UInt8.self), Int32(count))
        guard ok == 1, Int(written) == count else { throw .crypto("EVP_EncryptUpdate(AES-256-CTR)") }
    }

    /// Overwrites `words` with the next keystream words (little-endian).
    package func words(_ words: UnsafeMutableBufferPointer<UInt32>) throws(SecureAggregationError) {
        guard let base = words.baseAddress, words.count > 0 else { return }
        // CTR encrypts in place: zeros in, keystream out.
        memset(base, 0, words.count * 4)
        try encrypt(UnsafeMutableRawPointer(base), from: UnsafeRawPointer(base), count: words.count * 4)
        Self.fixEndianness(words)
    }

    /// The keystream is defined as little-endian words; a no-op on every platform SwiftFL runs on.
    package static func fixEndianness(_ words: UnsafeMutableBufferPointer<UInt32>) {
        #if _endian(big)
        for i in 0..<words.count { words[i] = UInt32(littleEndian: words[i]) }
        #endif
    }
}
