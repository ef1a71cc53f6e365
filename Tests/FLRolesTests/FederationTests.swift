import Foundation
import Testing
import FLCore
import FLRoles
import FLTesting

/// Whole federations run as separate processes on loopback: the real executables, real TLS.
@Suite(.serialized) struct FederationTests {
    @Test func breastCancerFederationTrainsAndSavesModels() throws {
        let fixture = try FederationFixture(template: "breast_cancer", collaborators: ["hospital_a", "hospital_b", "hospital_c"])
        try fixture.initialize()
        let (aggregator, port) = try fixture.startAggregator()
        let sites = try ["hospital_a", "hospital_b", "hospital_c"].map { try fixture.startCollaborator($0, port: port) }
        let status = try aggregator.waitForExit(timeout: 120)
        #expect(status.isSuccess, "aggregator: \(aggregator.errorTail())")
        for site in sites { #expect(try site.waitForExit(timeout: 30).isSuccess, "\(site.name): \(site.errorTail())") }

        let finished = try #require(FederationFixture.events("finished", in: aggregator).first)
        let metrics = try #require(finished["metrics"] as? [String: Double])
        let accuracy = try #require(metrics["aggregated_model_validation/accuracy"])
        #expect(accuracy >= 0.95)
        #expect(FederationFixture.events("round_closed", in: aggregator).count == 11)  // 10 rounds + final validation

        let workspace = Workspace(root: fixture.workspace)
        let best = try Safetensors.read("\(workspace.saveDirectory)/best.safetensors").model
        let last = try Safetensors.read("\(workspace.saveDirectory)/last.safetensors").model
        #expect(best.layout.tensors.map(\.name) == ["dense_0.weight", "dense_0.bias"])
        #expect(last.layout.tensors.map(\.shape) == [[2, 30], [2]])
        let records = try MetricsLog.read("\(workspace.logsDirectory)/metrics.jsonl")
        let origins = Set(records.map(\.origin))
        #expect(origins == ["aggregator", "hospital_a", "hospital_b", "hospital_c"])
        #expect(records.contains { $0.round == 9 && $0.origin == "aggregator" && $0.task == "train" && $0.metric == "loss" })
    }
}
