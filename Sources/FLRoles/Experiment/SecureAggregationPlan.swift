import FLCore
import FLPrivacy

/// The plan's `aggregator.settings.secure_aggregation`: the sites' updates are summed under masks
/// (SecAgg) so the aggregator learns only their weighted sum. Null (the default) turns it off.
///
///     secure_aggregation: {threshold: 3, clip_range: 1.0, bits: 32, weighting: samples, stage_timeout: 60}
public struct SecureAggregationPlan: Sendable, Hashable {
    /// Threshold, clip range, bits and weighting, checked by FLPrivacy (`problem`).
    public var parameters: SecureAggregationParameters
    /// Longest the aggregator holds a stage's requests (keys, shares, reveal) for sites that have
    /// not sent theirs; the masked inputs wait for the round's straggler timeout instead.
    public var stageTimeout: Double

    public init(parameters: SecureAggregationParameters, stageTimeout: Double = 60) {
        self.parameters = parameters
        self.stageTimeout = stageTimeout
    }

    /// The keys the section may hold. The defaults hold `secure_aggregation: null`, so the schema
    /// cannot see inside it: unknown keys are refused here.
    static let keys = ["threshold", "clip_range", "bits", "weighting", "stage_timeout"]

    /// Reads the section under `s` (nil when absent or null). Refuses, at the offending line, an
    /// unknown key, a value out of range, a threshold above the number of collaborators, and an
    /// aggregation other than FedAvg or `max_update_norm` (the aggregator cannot see, so cannot
    /// clip or rank, individual updates).
    static func read(_ plan: Plan, _ s: String, aggregation: AggregationSettings, collaboratorCount: Int) throws -> SecureAggregationPlan? {
        let path = "\(s).secure_aggregation"
        guard let section = try plan.sectionIfPresent(path) else { return nil }
        guard let mapping = section.node.asMapping else {
            throw PlanCheck.error(plan, path, "expected a mapping {threshold, clip_range, bits, weighting, stage_timeout} or null")
        }
        for key in mapping.keys where !keys.contains(key) {
            let near = PlanSchema.closestName(to: key, among: keys).map { " (did you mean \($0)?)" } ?? ""
            throw PlanCheck.error(section, key, "unknown setting '\(key)'\(near); expected \(keys.joined(separator: ", "))")
        }
        let weightingName = try section.string("weighting", default: SecureAggregationParameters.Weighting.samples.rawValue)
        guard let weighting = SecureAggregationParameters.Weighting(rawValue: weightingName) else {
            throw PlanCheck.error(section, "weighting", "expected samples or uniform, found '\(weightingName)'")
        }
        let parameters = SecureAggregationParameters(threshold: try section.int("threshold"), clipRange: try section.double("clip_range", default: 1.0),
                                                     bits: try section.int("bits", default: 32), weighting: weighting)
        if let problem = parameters.problem {
            let key = ["threshold", "clip_range", "bits"].first { problem.hasPrefix($0) } ?? ""
            throw PlanCheck.error(section, key, problem)
        }
        guard parameters.threshold <= collaboratorCount else {
            throw PlanCheck.error(section, "threshold", "threshold \(parameters.threshold) is more than the \(collaboratorCount) collaborators: no round could unmask")
        }
        // A majority of the largest cohort: an aggregator telling two halves different survivors
        // could otherwise unmask a site (FLPrivacy refuses smaller thresholds at every round).
        if let problem = parameters.problem(cohortSize: collaboratorCount) { throw PlanCheck.error(section, "threshold", problem) }
        let stageTimeout = try section.double("stage_timeout", default: 60)
        guard stageTimeout > 0, stageTimeout.isFinite else {
            throw PlanCheck.error(section, "stage_timeout", "expected a positive number of seconds, found \(stageTimeout)")
        }
        guard aggregation.function == AggregationSettings.Function.fedavg.rawValue else {
            throw PlanCheck.error(plan, "\(s).aggregation", "secure_aggregation needs aggregation: fedavg (the aggregator sees only the sum "
                                  + "of the updates), found '\(aggregation.function)'")
        }
        guard aggregation.maxUpdateNorm == nil else {
            throw PlanCheck.error(plan, "\(s).max_update_norm", "secure_aggregation cannot be combined with max_update_norm: the aggregator "
                                  + "cannot clip updates it never sees (clip_range bounds each coordinate instead)")
        }
        return SecureAggregationPlan(parameters: parameters, stageTimeout: stageTimeout)
    }
}
