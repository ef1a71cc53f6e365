import Foundation
import Testing
import FLCore
import FLPrivacy
import FLRoles
import FLTesting
import FLTraining

/// Differential privacy end to end: the real fx-aggregator and three collaborators on loopback train
/// the breast-cancer federation with central DP until the budget stops them.
@Suite(.serialized) struct DifferentialPrivacyFederationTests {
    /// σ = 1, every site every round (q = 1), δ = 1e-5, max_epsilon between ε after 3 and 4 rounds:
    /// three rounds train, ε is in each one's metrics (the aggregator's, in the metrics log), the
    /// fourth is not started, the final validation runs, and the experiment succeeds saying the budget
    /// stopped it. The noise leaves the federation's standardizer (preprocess tensors) alone.
    @Test func theBudgetStopsAFederationTrainingWithDifferentialPrivacy() throws {
        var accountant = PrivacyAccountant()
        var epsilons: [Double] = []
        for _ in 0..<4 {
            accountant.compose(samplingRate: 1, noiseMultiplier: 1, steps: 1)
            epsilons.append(accountant.epsilon(delta: 1e-5).epsilon)
        }
        let budget = (epsilons[2] + epsilons[3]) / 2
        let sites = ["hospital_a", "hospital_b", "hospital_c"]
        let fixture = try FederationFixture(template: "breast_cancer", collaborators: sites)
        try fixture.edit("plan/plan.yaml", replacing: "    rounds_to_train: 10\n", with: "    rounds_to_train: 10\n    differential_privacy:\n"
                         + "      {clip_norm: 1.0, noise_multiplier: 1.0, delta: 1.0e-5, max_epsilon: \(budget), placement: central}\n")
        try fixture.initialize()
        let (aggregator, port) = try fixture.startAggregator()
        let collaborators = try sites.map { try fixture.startCollaborator($0, port: port) }
        #expect(try aggregator.waitForExit(timeout: 120).isSuccess, "aggregator: \(aggregator.errorTail())")
        for site in collaborators { #expect(try site.waitForExit(timeout: 30).isSuccess, "\(site.name): \(site.errorTail())") }

        let finished = try #require(FederationFixture.events("finished", in: aggregator).first)
        #expect(finished["succeeded"] as? Bool == true && finished["rounds_completed"] as? Int == 3, "\(finished)")
        let reason = finished["reason"] as? String ?? ""
        #expect(reason.hasPrefix("completed 3 rounds; the privacy budget stopped training: round 4 would take ε from "), "\(reason)")
        let closed = FederationFixture.events("round_closed", in: aggregator)
        #expect(closed.contains { $0["final_validation"] as? Bool == true && $0["round"] as? Int == 3 }, "\(closed)")

        let records = try MetricsLog.read("\(fixture.workspace)/logs/metrics.jsonl").filter { $0.task == "privacy" }
        for round in 0..<3 {
            let epsilon = records.first { $0.round == round && $0.metric == "epsilon" }
            #expect(epsilon?.origin == "aggregator")
            #expect(abs((epsilon?.value ?? 0) - epsilons[round]) <= 1e-12 * epsilons[round], "round \(round): \(records)")
            #expect(records.first { $0.round == round && $0.metric == "delta" }?.value == 1e-5)
        }
        #expect(!records.contains { $0.round >= 3 }, "\(records)")

        // The standardizer is still the one the sites' pooled statistics give (noise of deviation
        // σC/3 ≈ 0.33 on it would show far beyond the tolerance).
        let last = try Safetensors.read("\(fixture.workspace)/save/last.safetensors").model
        let plan = try ExperimentPlan.load(workspace: Workspace(root: fixture.workspace), installation: try Installation(root: DirectorFixture.findRepository()))
        let pooled = try sites.map { FeatureStatistics(try plan.localData(for: $0, classCount: 2).train) }
            .reduce(FeatureStatistics(featureCount: 30), +).standardizer
        let carried = try #require(try Standardizer.fromPreprocessTensors(of: last, featureCount: 30))
        for j in 0..<30 {
            #expect(abs(carried.mean[j] - pooled.mean[j]) <= 1e-4 * max(1, abs(pooled.mean[j])), "feature \(j) mean")
            #expect(abs(carried.scale[j] - pooled.scale[j]) <= 1e-4 * max(1, pooled.scale[j]), "feature \(j) scale")
        }
    }
}
