/// What a plan's `differential_privacy` section sets (DP-FedAvg, McMahan et al. 2018): each site's
/// update is clipped to an L2 norm, Gaussian noise proportional to that norm is added to the sum,
/// and an accountant reports the (ε, δ) spent.
public struct DifferentialPrivacyParameters: Sendable, Hashable, Codable {
    /// Where the noise is added.
    public enum Placement: String, Sendable, Hashable, Codable, CaseIterable {
        /// By the aggregator, to the sum of the clipped updates (it sees them: trusted aggregator).
        case central
        /// By each site, its share of the noise (with secure aggregation: the aggregator sees only the noisy sum).
        case distributed
    }

    /// C: each site's update (its model minus the round's model) is scaled down to at most this L2 norm.
    public var clipNorm: Double
    /// σ: the noise added to the sum has standard deviation σ·C per coordinate.
    public var noiseMultiplier: Double
    /// The δ at which ε is reported.
    public var delta: Double
    /// Stop before a round that would take ε above this; nil: report only.
    public var maximumEpsilon: Double?
    public var placement: Placement

    public init(clipNorm: Double, noiseMultiplier: Double, delta: Double, maximumEpsilon: Double? = nil, placement: Placement = .central) {
        self.clipNorm = clipNorm
        self.noiseMultiplier = noiseMultiplier
        self.delta = delta
        self.maximumEpsilon = maximumEpsilon
        self.placement = placement
    }

    /// Why these parameters cannot work, or nil.
    public var problem: String? {
        if !(clipNorm > 0 && clipNorm.isFinite) { return "clip_norm must be a positive number, found \(clipNorm)" }
        if !(noiseMultiplier > 0 && noiseMultiplier.isFinite) { return "noise_multiplier must be a positive number, found \(noiseMultiplier)" }
        if !(delta > 0 && delta < 1) { return "delta must be between 0 and 1 (exclusive), found \(delta)" }
        if let e = maximumEpsilon, !(e > 0 && e.isFinite) { return "max_epsilon must be a positive number, found \(e)" }
        return nil
    }
}
