/// Identifies one protocol instance; bound into every HKDF `info` and AES-GCM AAD, so nothing from
/// one round/attempt/experiment can be replayed into another.
public struct SecureAggregationRound: Sendable, Hashable, Codable {
    public var experiment: String
    public var round: Int
    public var attempt: Int

    public init(experiment: String, round: Int, attempt: Int) {
        self.experiment = experiment
        self.round = round
        self.attempt = attempt
    }

    /// An unambiguous byte string naming `purpose`, this instance and `sites`, in that order: every
    /// field is length-prefixed or fixed-width, so no two different tuples give the same bytes.
    package func binding(_ purpose: String, sites: [String] = []) -> [UInt8] {
        var out = ProtocolBytes()
        out.append("SwiftFL secure aggregation v1")
        out.append(purpose)
        out.append(experiment)
        out.append(Int64(round))
        out.append(Int64(attempt))
        for site in sites { out.append(site) }
        return out.bytes
    }
}
