/// What a plan's `secure_aggregation` section sets: how many sites must survive a round, and how
/// updates become integers that masks can hide.
public struct SecureAggregationParameters: Sendable, Hashable, Codable {
    /// How each site's update is weighted in the sum the aggregator learns.
    public enum Weighting: String, Sendable, Hashable, Codable, CaseIterable {
        /// By the site's sample count, capped at its registered row count, as a factor in [0, 1]
        /// (its share of the largest cap): the factor travels masked beside the update.
        case samples
        /// Every site counts once.
        case uniform
    }

    /// The fewest sites whose shares unmask a round (t of Shamir's t-of-n); at least 2. More than
    /// half the cohort also keeps a server that tells sites different stories about who survived
    /// from gathering both secrets of one site (each site answers one claim per round).
    public var threshold: Int
    /// Each coordinate of a (weighted) update is clipped to [-clipRange, clipRange] before it is
    /// quantized.
    public var clipRange: Double
    /// The sum is computed modulo 2^bits (16 to 32).
    public var bits: Int
    public var weighting: Weighting

    public init(threshold: Int, clipRange: Double, bits: Int = 32, weighting: Weighting = .samples) {
        self.threshold = threshold
        self.clipRange = clipRange
        self.bits = bits
        self.weighting = weighting
    }

    /// The range of `bits`.
    public static let bitRange = 16...32

    /// Why these parameters cannot work, or nil.
    public var problem: String? {
        if threshold < 2 { return "threshold must be at least 2 (one site's update would be its own sum), found \(threshold)" }
        if !(clipRange > 0 && clipRange.isFinite) { return "clip_range must be a positive number, found \(clipRange)" }
        if !Self.bitRange.contains(bits) { return "bits must be from \(Self.bitRange.lowerBound) to \(Self.bitRange.upperBound), found \(bits)" }
        return nil
    }
}
