/// Arithmetic in GF(p) with the Mersenne prime p = 2^61 − 1: reduction is a shift and an add
/// (2^61 ≡ 1), so Shamir sharing needs no big-integer library.
package enum PrimeField {
    package static let modulus: UInt64 = (1 << 61) - 1

    /// (a + b) mod p, for a, b < p.
    @inline(__always)
    package static func add(_ a: UInt64, _ b: UInt64) -> UInt64 {
        reduceOnce(a + b)
    }

    /// (a − b) mod p, for a, b < p.
    @inline(__always)
    package static func subtract(_ a: UInt64, _ b: UInt64) -> UInt64 {
        a >= b ? a - b : a + modulus - b
    }

    /// (a · b) mod p, for a, b < p.
    @inline(__always)
    package static func multiply(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (high, low) = a.multipliedFullWidth(by: b)
        // a·b = high·2^64 + low, and 2^64 = 8·2^61 ≡ 8; high < 2^58, so every term fits.
        let folded = (low & modulus) + (low >> 61) + (high << 3)
        return reduceOnce(reduceOnce(folded))
    }

    /// a^(p−2) = a⁻¹ (Fermat), for a ≠ 0.
    package static func inverse(_ a: UInt64) -> UInt64 {
        var result: UInt64 = 1, base = a, exponent = modulus - 2
        while exponent > 0 {
            if exponent & 1 == 1 { result = multiply(result, base) }
            base = multiply(base, base)
            exponent >>= 1
        }
        return result
    }

    /// A uniformly random element (rejection sampling of 61-bit words).
    package static func random() throws(SecureAggregationError) -> UInt64 {
        while true {
            let candidate = try SecureRandom.word() & modulus
            if candidate < modulus { return candidate }
        }
    }

    @inline(__always)
    private static func reduceOnce(_ x: UInt64) -> UInt64 {
        x >= modulus ? x - modulus : x
    }
}
