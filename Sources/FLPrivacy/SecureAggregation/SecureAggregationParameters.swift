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

    /// The fewest sites whose shares unmask a round (t of Shamir's t-of-n); at least 2, and more
    /// than half the cohort (`problem(cohortSize:)`): a server that told some sites "u survived"
    /// and others "u dropped" gets t shares of u's self-mask seed and t of its masking key only
    /// from 2t different sites (each answers one claim per round), so 2t > n rules it out.
    /// Bonawitz et al.'s actively secure setting asks t > 2n/3 to also tolerate sites colluding
    /// with the server; SwiftFL's minimum is the majority, and a plan may choose more.
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

    /// The smallest threshold `problem(cohortSize:)` accepts for `cohortSize` invited sites: a majority.
    public static func minimumThreshold(cohortSize: Int) -> Int { max(2, cohortSize / 2 + 1) }

    /// Why these parameters cannot work for a round among `cohortSize` invited sites, or nil: the
    /// threshold must be more than half of them (see `threshold`). Sites check it against the
    /// roster they are sent, the server against its cohort; a plan can check it against the
    /// largest cohort it may invite.
    public func problem(cohortSize: Int) -> String? {
        if let problem { return problem }
        if 2 * threshold <= cohortSize {
            return "threshold must be more than half of the \(cohortSize) sites (at least \(Self.minimumThreshold(cohortSize: cohortSize))), found \(threshold)"
        }
        return nil
    }

    /// Why these parameters cannot work, or nil.
    public var problem: String? {
        if threshold < 2 { return "threshold must be at least 2 (one site's update would be its own sum), found \(threshold)" }
        if !(clipRange > 0 && clipRange.isFinite) { return "clip_range must be a positive number, found \(clipRange)" }
        if !Self.bitRange.contains(bits) { return "bits must be from \(Self.bitRange.lowerBound) to \(Self.bitRange.upperBound), found \(bits)" }
        return nil
    }
}
