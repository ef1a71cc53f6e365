import Testing
import FLCore
import FLPrivacy
import FLWire
@testable import FLRoles

/// `aggregator.settings.secure_aggregation`: read into the aggregator's settings, and refused at the
/// line of the offending setting when it cannot work.
@Suite struct SecureAggregationPlanTests {
    typealias Made = ExperimentPlanSchemaTests.Made

    /// The digits template with FedAvg and `lines` added to `aggregator.settings`.
    static func made(_ lines: String, aggregation: String = "fedavg") throws -> Made {
        try Made("digits", [("    aggregation: scaffold\n", "    aggregation: \(aggregation)\n" + lines)])
    }

    @Test func theSectionReachesTheAggregatorsSettings() throws {
        let plan = try Self.made("    secure_aggregation: {threshold: 3, clip_range: 0.5, bits: 24, weighting: uniform, stage_timeout: 12}\n").load()
        let settings = plan.aggregatorSettings(experiment: "x", tls: TLSConfiguration(caCertificatePath: "/x/ca.crt", certificatePath: "/x/a.crt", privateKeyPath: "/x/a.key"))
        #expect(settings.secureAggregation == SecureAggregationPlan(parameters: SecureAggregationParameters(threshold: 3, clipRange: 0.5, bits: 24,
                                                                                                          weighting: .uniform), stageTimeout: 12))
        // Off by default; the defaults when only the threshold is given.
        #expect(try Self.made("").load().aggregator.secureAggregation == nil)
        let minimal = try Self.made("    secure_aggregation: {threshold: 3}\n").load().aggregator.secureAggregation
        #expect(minimal == SecureAggregationPlan(parameters: SecureAggregationParameters(threshold: 3, clipRange: 1, bits: 32, weighting: .samples),
                                                 stageTimeout: 60))
    }

    @Test(arguments: [
        ("    secure_aggregation: {threshold: 3, clip_rnage: 1.0}\n", "fedavg", "clip_rnage", "did you mean clip_range?"),
        ("    secure_aggregation: {threshold: 1}\n", "fedavg", "threshold", "at least 2"),
        ("    secure_aggregation: {threshold: 5}\n", "fedavg", "threshold", "more than the 4 collaborators"),
        ("    secure_aggregation: {threshold: 2}\n", "fedavg", "threshold", "more than half of the 4 sites"),
        ("    secure_aggregation: {threshold: 3, bits: 40}\n", "fedavg", "bits", "16 to 32"),
        ("    secure_aggregation: {threshold: 3, weighting: rows}\n", "fedavg", "weighting", "samples or uniform"),
        ("    secure_aggregation: {threshold: 3, stage_timeout: 0}\n", "fedavg", "stage_timeout", "positive"),
        ("    secure_aggregation: {threshold: 3}\n", "median", "aggregation", "needs aggregation: fedavg"),
        ("    max_update_norm: 1.0\n    secure_aggregation: {threshold: 3}\n", "fedavg", "max_update_norm", "cannot be combined"),
        ("    secure_aggregation: {threshold: 3, weighting: uniform}\n    differential_privacy: {clip_norm: 1.0, noise_multiplier: 1.0, delta: 1.0e-5, placement: central}\n",
         "fedavg", "differential_privacy", "central noise cannot go with secure_aggregation"),
        ("    secure_aggregation: {threshold: 3}\n"
         + "    differential_privacy: {clip_norm: 1.0, noise_multiplier: 1.0, delta: 1.0e-5, placement: distributed}\n",
         "fedavg", "differential_privacy", "needs secure_aggregation.weighting: uniform"),
    ])
    func aSettingThatCannotWorkIsRefusedAtItsLine(lines: String, aggregation: String, key: String, says: String) throws {
        let made = try Self.made(lines, aggregation: aggregation)
        let refusal = try #require(made.refusal(), "\(lines) loaded")
        #expect(refusal.contains(says), "\(refusal)")
        // Where the key is written (a flow mapping's keys are on the section's line).
        let line = try made.location(of: ["aggregation", "max_update_norm", "differential_privacy"].contains(key) ? key : "secure_aggregation")
        let fileAndLine = line.split(separator: ":").prefix(2).joined(separator: ":")
        #expect(refusal.hasPrefix(fileAndLine + ":"), "\(refusal) is not at \(fileAndLine)")
    }
}
