import Foundation
import FLCore
internal import COpenSSL

/// Draws N(0, s²) noise into float32 buffers, fast: Marsaglia's polar method over xoshiro256**
/// (Blackman and Vigna 2018), two normal values per accepted pair of uniforms, written straight into
/// the buffer (no allocation per value).
///
/// Seeded from OpenSSL's `RAND_bytes` unless a seed is given (tests, reproducible runs). The
/// generator is a fast statistical one, not a cryptographic one: its state (256 bits, from the
/// system's entropy) is not predictable from outside, but the noise is plain double-precision
/// sampling rounded to float32, without the defences against floating-point attacks on the Gaussian
/// mechanism's low-order bits (Mironov 2012); docs/security.md says so.
public struct GaussianNoise: Sendable {
    private var generator: Xoshiro256StarStar

    /// A generator seeded with 32 bytes from `RAND_bytes`.
    public init() {
        var bytes = [UInt8](repeating: 0, count: 32)
        // RAND_bytes fails only when the system has no entropy to give: nothing sensible could be drawn.
        precondition(RAND_bytes(&bytes, 32) == 1, "GaussianNoise: RAND_bytes failed")
        let words = bytes.withUnsafeBytes { raw in (0..<4).map { raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self) } }
        // xoshiro's one forbidden state is all zero (probability 2⁻²⁵⁶).
        let allZero = words.allSatisfy { $0 == 0 }
        generator = Xoshiro256StarStar(state: (allZero ? 1 : words[0], words[1], words[2], words[3]))
    }

    /// A generator whose sequence is fixed by `seed` (expanded with SplitMix64).
    public init(seed: UInt64) {
        generator = Xoshiro256StarStar(seed: seed)
    }

    /// Adds an independent N(0, standardDeviation²) value to each element of `values`.
    public mutating func add(to values: UnsafeMutableBufferPointer<Float>, standardDeviation: Double) {
        guard let p = values.baseAddress, standardDeviation > 0 else { return }
        var i = 0
        while i + 1 < values.count {
            let (a, b) = nextPair()
            p[i] += Float(a * standardDeviation)
            p[i + 1] += Float(b * standardDeviation)
            i += 2
        }
        if i < values.count { p[i] += Float(nextPair().0 * standardDeviation) }
    }

    /// Two independent standard normal values (Marsaglia's polar method).
    @inline(__always)
    mutating func nextPair() -> (Double, Double) {
        while true {
            let u = uniform() * 2 - 1, v = uniform() * 2 - 1
            let s = u * u + v * v
            guard s < 1, s > 0 else { continue }
            let factor = (-2 * log(s) / s).squareRoot()
            return (u * factor, v * factor)
        }
    }

    /// A uniform Double in [0, 1) from the top 53 bits of the next output.
    @inline(__always)
    private mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    @inline(__always)
    private mutating func next() -> UInt64 { generator.next() }
}
