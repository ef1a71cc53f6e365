/// xoshiro256** (Blackman and Vigna 2018): a fast, statistically strong 64-bit generator with 256
/// bits of state. Not cryptographic: its output reveals its state. Training's `SeededGenerator` and
/// the privacy noise's `GaussianNoise` both draw from it; it is inlinable because both call it once
/// per value in their hot loops.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    @usableFromInline var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// A generator whose whole state is expanded from `seed` with SplitMix64, as the authors recommend.
    public init(seed: UInt64) {
        var mixer = SplitMix64(state: seed)
        (s0, s1, s2, s3) = (mixer.next(), mixer.next(), mixer.next(), mixer.next())
    }

    /// A generator with an explicit state (e.g. 32 bytes of system entropy, or a reference stream's).
    /// - Precondition: not all four words are zero (the one state xoshiro never leaves).
    public init(state: (UInt64, UInt64, UInt64, UInt64)) {
        precondition(state != (0, 0, 0, 0), "xoshiro256 state must not be all zero")
        (s0, s1, s2, s3) = state
    }

    /// The next 64 random bits.
    @inlinable
    public mutating func next() -> UInt64 {
        let result = Self.rotateLeft(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = Self.rotateLeft(s3, 45)
        return result
    }

    @inlinable
    static func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 &- k)) }
}
