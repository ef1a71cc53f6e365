/// What the server learns at the end of a round: the sum of the survivors' encoded vectors, nothing else.
public struct UnmaskedSum: Sendable {
    /// Σ of the survivors' encoded vectors mod 2^bits.
    public var sum: [UInt32]
    /// The survivors whose inputs are in `sum`, sorted.
    public var contributors: [String]
    /// Sites whose revealed share failed its commitment (left out), sorted.
    public var badShares: [String]

    public init(sum: [UInt32], contributors: [String], badShares: [String]) {
        self.sum = sum
        self.contributors = contributors
        self.badShares = badShares
    }
}
