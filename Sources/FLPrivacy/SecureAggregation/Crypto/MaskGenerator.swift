#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

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
        let cipher = try AESCTRStream(key: key, counter: counter)
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
        AESCTRStream.fixEndianness(out)
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
        let cipher = try AESCTRStream(key: key, counter: counter)
        let words = min(Self.blockWords, out.count)
        let scratch = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: words)
        defer { scratch.deallocate() }
        var done = 0
        while done < out.count {
            let n = min(words, out.count - done)
            let block = UnsafeMutableBufferPointer(rebasing: scratch[0..<n])
            try cipher.words(block)
            apply(UnsafeMutableBufferPointer(start: base + done, count: n), block)
            done += n
        }
    }
}
