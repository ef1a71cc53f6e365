/// SplitMix64 (Steele, Lea and Flood, 2014): a tiny, fast, well-mixed 64-bit sequence. SwiftFL uses it
/// to expand seeds and to mix values into stable pseudo-random choices (task groups, test inputs);
/// sampling for training goes through FLTraining's `SeededGenerator`.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(state: UInt64) { self.state = state }

    public mutating func next() -> UInt64 {
        let value = SplitMix64.mix(state)
        state &+= 0x9E37_79B9_7F4A_7C15
        return value
    }

    /// The output SplitMix64 gives for `state`: a strong 64-bit mixing function (a bijection).
    public static func mix(_ state: UInt64) -> UInt64 {
        var z = state &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
