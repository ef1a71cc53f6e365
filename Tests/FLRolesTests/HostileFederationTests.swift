import Foundation
import Testing
import FLCore
import FLRoles
import FLTesting
import FLTraining

/// Real processes: four digits sites, one of them hostile (`Tests/Interop/hostile_runner.py` sends
/// the federation's last step sign-flipped ×10 with an ordinary sample count). FedAvg follows it
/// into the ground; the coordinate-wise median does not notice it.
@Suite struct HostileFederationTests {
    static let sites = ["site_1", "site_2", "site_3", "site_4"]

    /// The last model's accuracy on every row of the digits data after 8 rounds with `site_4` hostile.
    func accuracy(aggregation: String) throws -> Double {
        let fixture = try FederationFixture(template: "digits", collaborators: Self.sites)
        try fixture.edit("plan/plan.yaml", replacing: "rounds_to_train: 20", with: "rounds_to_train: 8")
        try fixture.edit("plan/plan.yaml", replacing: "    aggregation: scaffold\n", with: "    aggregation: \(aggregation)\n")
        try fixture.initialize()
        let hostile = try fixture.hostileCopy(
            tensors: "{dense_0.weight: [64, 64], dense_0.bias: [64], dense_1.weight: [10, 64], dense_1.bias: [10]}", scale: 10)
        let (aggregator, port) = try fixture.startAggregator()
        for site in Self.sites {
            _ = try fixture.startCollaborator(site, port: port, workspace: site == "site_4" ? hostile : nil)
        }
        #expect(try aggregator.waitForExit(timeout: 300).isSuccess, "aggregator: \(aggregator.errorTail())")
        let data = try CSVDataset.load(path: "\(fixture.workspace)/data/digits_8x8.csv", classCount: 10)
        return try TrainedModel.load("\(fixture.workspace)/save/last.safetensors").evaluate(data).accuracy
    }

    @Test(.disabled(if: PythonInterop.skipped, "SWIFTFL_SKIP_PYTHON=1"))
    func theMedianIgnoresASiteThatFedAvgFollows() throws {
        let median = try accuracy(aggregation: "median")
        let fedavg = try accuracy(aggregation: "fedavg")
        #expect(median > 0.9, "median: \(median)")
        #expect(fedavg < 0.5, "fedavg: \(fedavg)")
    }
}
