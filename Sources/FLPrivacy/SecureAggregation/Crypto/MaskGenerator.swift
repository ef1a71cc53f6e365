#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
internal import COpenSSL

/// The PRG that expands a 32-byte seed into a mask: the AES-256-CTR keystream under the seed as key
/// and an all-zero initial counter block, read as little-endian UInt32 words.
///
/// It writes straight into the caller's buffer (or adds/subtracts through one fixed 64 KiB scratch
/// block per call), so a million-value mask costs no allocation per element: AES-NI makes the
/// keystream cost about a cycle per byte and the add is a vectorised loop.
package struct MaskGenerator: Sendable {
    /// Words expanded per OpenSSL call when adding or subtracting.
    private static let blockWords = 16 * 1024

    private let key: [UInt8]
    private let counter: [UInt8]

    /// The generator for `seed` (32 bytes).
    package init(seed: [UInt8]) throws(SecureAggregationError) {
        try self.init(key: seed, initialCounter: [UInt8](repeating: 0, count: 16))
    }

    /// AES-256-CTR with an explicit initial counter block (tests check it against NIST SP 800-38A).
    package init(key: [UInt8], initialCounter: [UInt8]) throws(SecureAggregationError) {
        guard key.count == 32 else { throw .crypto("mask seed of \(key.count) bytes, expected 32") }
        guard initialCounter.count == 16 else { throw .crypto("AES-CTR counter block of \(initialCounter.count) bytes, expected 16") }
        self.key = key
        self.counter = initialCounter
    }

    /// Overwrites `out` with the keystream's bytes.
    package func fill(_ out: UnsafeMutableRawBufferPointer) throws(SecureAggregationError) {
        guard let base = out.baseAddress, out.count > 0 else { return }
        let cipher = try Cipher(key: key, counter: counter)
        // CTR encrypts in place: zeros in, keystream out.
        memset(base, 0, out.count)
        var done = 0
        while done < out.count {
            let n = min(out.count - done, 1 << 24)
            try cipher.encrypt(base.advanced(by: done), from: UnsafeRawPointer(base.advanced(by: done)), count: n)
            done += n
        }
    }

    /// Overwrites `out` with the mask's words.
    package func fill(_ out: UnsafeMutableBufferPointer<UInt32>) throws(SecureAggregationError) {
        try fill(UnsafeMutableRawBufferPointer(out))
        fixEndianness(out)
    }

    /// out[i] = out[i] + mask[i] (mod 2^32).
    package func add(into out: UnsafeMutableBufferPointer<UInt32>) throws(SecureAggregationError) {
        try combine(out) { target, mask in
            for i in 0..<target.count { target[i] &+= mask[i] }
        }
    }

    /// out[i] = out[i] − mask[i] (mod 2^32).
    package func subtract(from out: UnsafeMutableBufferPointer<UInt32>) throws(SecureAggregationError) {
        try combine(out) { target, mask in
            for i in 0..<target.count { target[i] &-= mask[i] }
        }
    }

    private func combine(_ out: UnsafeMutableBufferPointer<UInt32>, _ apply: (UnsafeMutableBufferPointer<UInt32>, UnsafeMutableBufferPointer<UInt32>) -> Void) throws(SecureAggregationError) {
        guard let base = out.baseAddress, out.count > 0 else { return }
        let cipher = try Cipher(key: key, counter: counter)
        let words = min(Self.blockWords, out.count)
        let scratch = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: words)
        defer { scratch.deallocate() }
        var done = 0
        while done < out.count {
            let n = min(words, out.count - done)
            let block = UnsafeMutableBufferPointer(rebasing: scratch[0..<n])
            let raw = UnsafeMutableRawPointer(block.baseAddress!)
            memset(raw, 0, n * 4)
            try cipher.encrypt(raw, from: UnsafeRawPointer(raw), count: n * 4)
            fixEndianness(block)
            apply(UnsafeMutableBufferPointer(start: base + done, count: n), block)
            done += n
        }
    }

    /// The keystream is defined as little-endian words; a no-op on every platform SwiftFL runs on.
    private func fixEndianness(_ words: UnsafeMutableBufferPointer<UInt32>) {
        #if _endian(big)
        for i in 0..<words.count { words[i] = UInt32(littleEndian: words[i]) }
        #endif
    }
}

/// One AES-256-CTR context, alive for one expansion and used by one thread.
private final class Cipher {
    let ctx: OpaquePointer

    init(key: [UInt8], counter: [UInt8]) throws(SecureAggregationError) {
        guard let ctx = EVP_CIPHER_CTX_new() else { throw .crypto("EVP_CIPHER_CTX_new") }
        guard EVP_EncryptInit_ex(ctx, EVP_aes_256_ctr(), nil, key, counter) == 1 else {
            EVP_CIPHER_CTX_free(ctx)
            throw .crypto("EVP_EncryptInit_ex(AES-256-CTR)")
        }
        self.ctx = ctx
    }

    deinit { EVP_CIPHER_CTX_free(ctx) }

    func encrypt(_ out: UnsafeMutableRawPointer, from input: UnsafeRawPointer, count: Int) throws(SecureAggregationError) {
        var written: Int32 = 0
        let ok = EVP_EncryptUpdate(ctx, out.assumingMemoryBound(to: UInt8.self), &written, input.assumingMemoryBound(to: UInt8.self), Int32(count))
        guard ok == 1, Int(written) == count else { throw .crypto("EVP_EncryptUpdate(AES-256-CTR)") }
    }
}
