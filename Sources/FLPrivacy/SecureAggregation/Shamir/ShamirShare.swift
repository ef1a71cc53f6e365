/// One site's share of a secret: the evaluations at `x` of one polynomial per chunk of the secret.
package struct ShamirShare: Sendable, Hashable {
    /// The x-coordinate (1...n, never 0: p(0) is the secret).
    package var x: UInt64
    /// p_k(x) for each chunk k, each < 2^61 − 1.
    package var values: [UInt64]

    package init(x: UInt64, values: [UInt64]) {
        self.x = x
        self.values = values
    }

    /// Bytes on the wire: x then each value, as big-endian 64-bit words.
    package var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(8 * (values.count + 1))
        for word in [x] + values {
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        return out
    }

    /// The share in `bytes`, or nil unless it holds `chunks` values, a non-zero x and only field elements.
    package init?(bytes: [UInt8], chunks: Int) {
        guard bytes.count == 8 * (chunks + 1) else { return nil }
        var words: [UInt64] = []
        for start in stride(from: 0, to: bytes.count, by: 8) {
            words.append(bytes[start..<(start + 8)].reduce(0) { $0 << 8 | UInt64($1) })
        }
        guard words[0] != 0, words[0] < PrimeField.modulus, words.allSatisfy({ $0 < PrimeField.modulus }) else { return nil }
        self.init(x: words[0], values: Array(words.dropFirst()))
    }
}
