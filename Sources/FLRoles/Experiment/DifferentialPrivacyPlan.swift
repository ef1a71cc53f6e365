import FLCore
import FLPrivacy
import FLWire

/// The plan's `aggregator.settings.differential_privacy` section (DP-FedAvg), read and checked
/// against the rest of the aggregator's settings. Every refusal names the setting at its line.
enum DifferentialPrivacyPlan {
    /// The section's keys (the schema refuses any other, `ExperimentPlan.schema`).
    static let fields = ["clip_norm", "noise_multiplier", "delta", "max_epsilon", "placement"]

    /// The parameters, or nil when the section is absent or null (no differential privacy).
    ///
    /// `secureAggregation` is the plan's secure aggregation, if any: distributed noise needs it (the
    /// sites' noise only protects when the aggregator sees nothing but the sum), central noise cannot
    /// have it (the aggregator cannot clip what it cannot see), and its weighting must be uniform
    /// (sample-count weights would let one site's share exceed the clip norm the noise is sized for).
    static func read(_ plan: Plan, _ s: String, aggregation: AggregationSettings,
                     secureAggregation: SecureAggregationParameters?) throws -> DifferentialPrivacyParameters? {
        guard let section = try plan.sectionIfPresent("\(s).differential_privacy") else { return nil }
        guard section.node.asMapping != nil else {
            throw PlanCheck.error(section, "", "expected a mapping of \(fields.joined(separator: ", ")), or null for none, found \(section.node.value.summary)")
        }
        let placementName = try section.string("placement", default: DifferentialPrivacyParameters.Placement.central.rawValue)
        guard let placement = DifferentialPrivacyParameters.Placement(rawValue: placementName) else {
            let known = DifferentialPrivacyParameters.Placement.allCases.map(\.rawValue).joined(separator: " or ")
            throw PlanCheck.error(section, "placement", "expected \(known), found '\(placementName)'")
        }
        let parameters = DifferentialPrivacyParameters(clipNorm: try section.double("clip_norm"), noiseMultiplier: try section.double("noise_multiplier"),
                                                       delta: try section.double("delta"), maximumEpsilon: try section.doubleIfPresent("max_epsilon"),
                                                       placement: placement)
        if let problem = parameters.problem {
            // Each problem starts with the name of its setting.
            let field = String(problem.prefix { $0 != " " })
            throw PlanCheck.error(section, fields.contains(field) ? field : "", problem)
        }
        guard aggregation.function == AggregationSettings.Function.fedavg.rawValue else {
            throw PlanCheck.error(plan, "\(s).aggregation", "differential_privacy needs aggregation: fedavg (the noise is sized for a "
                                  + "sum of clipped updates), found '\(aggregation.function)'")
        }
        if aggregation.maxUpdateNorm != nil {
            throw PlanCheck.error(plan, "\(s).max_update_norm", "differential_privacy clips every update to its clip_norm already; "
                                  + "set max_update_norm: null (two clip norms would leave the noise sized for the wrong one)")
        }
        try checkPlacement(parameters, section, secureAggregation: secureAggregation)
        return parameters
    }

    /// The placement's rules against secure aggregation (see `read`).
    static func checkPlacement(_ parameters: DifferentialPrivacyParameters, _ section: PlanSection,
                               secureAggregation: SecureAggregationParameters?) throws {
        switch (parameters.placement, secureAggregation) {
        case (.distributed, nil):
            throw PlanCheck.error(section, "placement", "distributed noise needs secure_aggregation (each site's share of the noise "
                                  + "protects only when the aggregator sees nothing but the sum); use placement: central")
        case (.central, .some):
            throw PlanCheck.error(section, "placement", "central noise cannot go with secure_aggregation (the aggregator cannot clip "
                                  + "updates it cannot see); use placement: distributed")
        case let (.distributed, .some(secure)) where secure.weighting != .uniform:
            throw PlanCheck.error(section, "placement", "differential privacy needs secure_aggregation.weighting: uniform (a site "
                                  + "weighted by its samples could move the sum by more than clip_norm), found \(secure.weighting.rawValue)")
        case let (.distributed, .some(secure)) where secure.clipRange < DistributedPrivacyOffer.smallestClipRange(parameters, secure):
            throw PlanCheck.error(section, "placement", "distributed noise needs secure_aggregation.clip_range of at least "
                                  + "\(DistributedPrivacyOffer.smallestClipRange(parameters, secure)) (clip_norm plus 6 deviations of each "
                                  + "site's noise, σ·C/√threshold), found \(secure.clipRange): a noisy coordinate clipped to the range "
                                  + "would carry less noise than the accountant counts")
        default:
            break
        }
    }
}
