/// Identifies one protocol instance and the values its sites agreed for it; bound into every HKDF
/// `info`, AES-GCM AAD and key-advertisement signature, so nothing from one round/attempt/experiment
/// can be replayed into another, and sites told different values (another weight scale, say)
/// cannot be mixed in one sum: their signatures do not verify for each other and their masks do
/// not cancel.
public struct SecureAggregationRound: Sendable, Hashable, Codable {
    public var experiment: String
    public var round: Int
    public var attempt: Int
    /// The invited cohort's size: the `cohortSize` of `SecureAggregationEncoding`, the n every
    /// site's values are bounded for. nil: not agreed (then a site checks its input only against 2^bits).
    public var cohortSize: Int?
    /// Values in each encoded vector (`SecureAggregationEncoding.encodedCount(values:)`): the
    /// server's `vectorLength`, which a site's masked input must match. nil: not agreed.
    public var vectorLength: Int?
    /// The common denominator of the sites' weight factors (f = min(samples, cap) / weightScale)
    /// under `.samples` weighting: bound so that a server cannot shrink some sites' weights to
    /// nothing by telling them another scale. nil: not agreed (uniform weights).
    public var weightScale: Int?

    public init(experiment: String, round: Int, attempt: Int, cohortSize: Int? = nil, vectorLength: Int? = nil, weightScale: Int? = nil) {
        self.experiment = experiment
        self.round = round
        self.attempt = attempt
        self.cohortSize = cohortSize
        self.vectorLength = vectorLength
        self.weightScale = weightScale
    }

    /// An unambiguous byte string naming `purpose`, this instance (with its agreed values) and
    /// `sites`, in that order: every field is length-prefixed or fixed-width, so no two different
    /// tuples give the same bytes.
    package func binding(_ purpose: String, sites: [String] = []) -> [UInt8] {
        var out = ProtocolBytes()
        out.append("SwiftFL secure aggregation v1")
        out.append(purpose)
        out.append(experiment)
        out.append(Int64(round))
        out.append(Int64(attempt))
        for agreed in [cohortSize, vectorLength, weightScale] {
            // A flag before each value, so "absent" and any value differ.
            out.append(UInt8(agreed == nil ? 0 : 1))
            out.append(Int64(agreed ?? 0))
        }
        for site in sites { out.append(site) }
        return out.bytes
    }

    /// Why the agreed values cannot be right, or nil.
    var problem: String? {
        if let cohortSize, cohortSize < 1 { return "the agreed cohort size is \(cohortSize)" }
        if let vectorLength, vectorLength < 1 { return "the agreed vector length is \(vectorLength)" }
        if let weightScale, weightScale < 1 { return "the agreed weight scale is \(weightScale)" }
        return nil
    }
}
