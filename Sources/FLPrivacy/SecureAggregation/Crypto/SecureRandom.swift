internal import COpenSSL

/// Secret randomness from OpenSSL's CSPRNG (`RAND_bytes`): every key, seed, salt, nonce and Shamir
/// coefficient of secure aggregation comes from here, never from Swift's default generator.
package enum SecureRandom {
    /// `count` random bytes.
    package static func bytes(_ count: Int) throws(SecureAggregationError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        guard count > 0 else { return out }
        let ok = out.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32($0.count)) }
        guard ok == 1 else { throw .crypto("RAND_bytes(\(count))") }
        return out
    }

    /// A random 64-bit word.
    package static func word() throws(SecureAggregationError) -> UInt64 {
        var word: UInt64 = 0
        let ok = withUnsafeMutableBytes(of: &word) { RAND_bytes($0.baseAddress?.assumingMemoryBound(to: UInt8.self), 8) }
        guard ok == 1 else { throw .crypto("RAND_bytes(8)") }
        return word
    }
}
