/// What every derivation, envelope and signature of one protocol instance binds: the round (with
/// the values the sites agreed for it) and the parameters. Sites handed different parameters
/// derive different keys and seeds, so their envelopes do not open and their masks do not cancel:
/// a server cannot run one site under other terms than the rest.
package struct ProtocolContext: Sendable, Hashable {
    package var round: SecureAggregationRound
    package var parameters: SecureAggregationParameters

    package init(round: SecureAggregationRound, parameters: SecureAggregationParameters) {
        self.round = round
        self.parameters = parameters
    }

    /// The round's binding for `purpose` and `sites`, then the parameters, each fixed-width or
    /// length-prefixed.
    package func binding(_ purpose: String, sites: [String] = []) -> [UInt8] {
        var out = ProtocolBytes()
        out.append(round.binding(purpose, sites: sites))
        out.append(Int64(parameters.threshold))
        out.append(parameters.clipRange.bitPattern)
        out.append(Int64(parameters.bits))
        out.append(parameters.weighting.rawValue)
        return out.bytes
    }
}
