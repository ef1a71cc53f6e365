import Foundation
import Testing
import FLCore
import FLRoles
import FLTesting
import FLTraining

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
        let closed = FederationFixture.events("round_closed", in: aggregator)
        // 10 rounds + the final validation, and the best model's own validation when it is not the final one.
        #expect(closed.filter { $0["best_validation"] == nil }.count == 11)
        let final = try #require(closed.first { $0["final_validation"] as? Bool == true })
        let bySite = try #require(final["site_metrics"] as? [String: [String: Double]])
        #expect(bySite.keys.sorted() == ["hospital_a", "hospital_b", "hospital_c"])
        #expect(bySite.values.allSatisfy { $0["aggregated_model_validation/accuracy"] != nil })
        if let bestRound = closed.first(where: { $0["best_validation"] as? Bool == true }) {
            #expect((bestRound["site_metrics"] as? [String: [String: Double]])?.count == 3)
            #expect(bestRound["round"] as? Int == 11)
        }

        let workspace = Workspace(root: fixture.workspace)
        let best = try Safetensors.read("\(workspace.saveDirectory)/best.safetensors").model
        let last = try Safetensors.read("\(workspace.saveDirectory)/last.safetensors").model
        #expect(best.layout.tensors.map(\.name) == ["dense_0.weight", "dense_0.bias", "preprocess.mean", "preprocess.scale"])
        #expect(last.layout.tensors.map(\.shape) == [[2, 30], [2], [30], [30]])
        // The federation's standardizer is the one the pooled training rows of all sites give,
        // though no site sent a row: each sent its count, sums and sums of squares.
        let plan = try ExperimentPlan.load(workspace: workspace, installation: try Installation(root: DirectorFixture.findRepository()))
        let pooled = try ["hospital_a", "hospital_b", "hospital_c"].map { FeatureStatistics(try plan.localData(for: $0, classCount: 2).train) }
            .reduce(FeatureStatistics(featureCount: 30), +).standardizer
        for model in [best, last] {
            let carried = try #require(try Standardizer.fromPreprocessTensors(of: model, featureCount: 30))
            for j in 0..<30 {
                #expect(abs(carried.mean[j] - pooled.mean[j]) <= 1e-4 * max(1, abs(pooled.mean[j])), "feature \(j) mean")
                #expect(abs(carried.scale[j] - pooled.scale[j]) <= 1e-4 * max(1, pooled.scale[j]), "feature \(j) scale")
            }
        }
        #expect(aggregator.errorLines.contains { $0.contains("the federation's standardizer: 455 training rows from 3 sites") }, "\(aggregator.errorTail())")
        // Each says how to run it, as the initial model did.
        let described = ModelDescription(architecture: .softmaxRegression(inputs: 30, classes: 2), labelColumn: "label", standardization: .federated)
        for name in ["init", "best", "last"] {
            let metadata = try Safetensors.read("\(workspace.saveDirectory)/\(name).safetensors").metadata
            #expect(try ModelDescription(metadata: metadata) == described, "\(name): \(metadata)")
        }
        // So the best model runs on the whole dataset as it is, with its own preprocessing.
        let evaluated = try fixture.fx(["model", "evaluate", "--model", "\(workspace.saveDirectory)/best.safetensors",
                                        "--data", "\(fixture.workspace)/data/breast_cancer_wisconsin.csv", "--json"])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(evaluated.utf8)) as? [String: Any])
        #expect(report["rows"] as? Int == 569)
        #expect((report["accuracy"] as? Double ?? 0) >= 0.9, "\(report)")
        // Every write and link is atomic through a temporary name; none may be left behind.
        let saved = try FileManager.default.subpathsOfDirectory(atPath: workspace.saveDirectory)
        #expect(!saved.isEmpty && saved.allSatisfy { !$0.contains(".tmp.") }, "\(saved.sorted())")
        let records = try MetricsLog.read("\(workspace.logsDirectory)/metrics.jsonl")
        let origins = Set(records.map(\.origin))
        #expect(origins == ["aggregator", "hospital_a", "hospital_b", "hospital_c"])
        #expect(records.contains { $0.round == 9 && $0.origin == "aggregator" && $0.task == "train" && $0.metric == "loss" })
    }
}

extension FederationTests {
    /// SCAFFOLD end to end: the model carries the server's control variate (checkpointed with it),
    /// each site keeps its own between rounds, and the trained model still loads and predicts.
    @Test func scaffoldTrainsTheDigitsWithControlVariates() throws {
        let sites = ["site_1", "site_2", "site_3", "site_4"]
        let fixture = try FederationFixture(template: "digits", collaborators: sites)
        try fixture.edit("plan/plan.yaml", replacing: "rounds_to_train: 20", with: "rounds_to_train: 6")
        try fixture.initialize()
        let (aggregator, port) = try fixture.startAggregator()
        for site in sites { _ = try fixture.startCollaborator(site, port: port) }
        #expect(try aggregator.waitForExit(timeout: 300).isSuccess, "aggregator: \(aggregator.errorTail())")
        let last = try Safetensors.read("\(fixture.workspace)/save/last.safetensors").model
        let control = last.layout.tensors.filter { ScaffoldControl.isControlTensor($0.name) }
        #expect(control.map(\.name) == ["scaffold.dense_0.weight", "scaffold.dense_0.bias", "scaffold.dense_1.weight", "scaffold.dense_1.bias"])
        let c = last.values[last.layout.range(of: "scaffold.dense_0.weight")!]
        #expect(c.contains { $0 != 0 }, "the server's control variate never moved")
        for site in sites {
            let (kept, metadata) = try Safetensors.read("\(fixture.workspace)/save/scaffold-\(site).safetensors")
            #expect(metadata["swiftfl.scaffold.round"] == "5" && kept.values.contains { $0 != 0 }, "\(site): \(metadata)")
        }
        let data = try CSVDataset.load(path: "\(fixture.workspace)/data/digits_8x8.csv", classCount: 10)
        let accuracy = try TrainedModel.load("\(fixture.workspace)/save/last.safetensors").evaluate(data).accuracy
        #expect(accuracy > 0.9, "accuracy \(accuracy)")
    }

    /// Four sites with IID shards of the digits: the federation's final accuracy (SCAFFOLD, as the
    /// template says) is within 2 points of the same model trained centrally by the same code on the
    /// union of the shards for as many epochs.
    @Test func digitsFedAvgMatchesCentralTraining() throws {
        let sites = ["site_1", "site_2", "site_3", "site_4"]
        let fixture = try FederationFixture(template: "digits", collaborators: sites)
        try fixture.initialize()
        let (aggregator, port) = try fixture.startAggregator()
        for site in sites { _ = try fixture.startCollaborator(site, port: port) }
        #expect(try aggregator.waitForExit(timeout: 300).isSuccess, "aggregator: \(aggregator.errorTail())")
        let finished = try #require(FederationFixture.events("finished", in: aggregator).first)
        let federated = try #require((finished["metrics"] as? [String: Double])?["aggregated_model_validation/accuracy"])

        // The same shards and splits, trained centrally.
        let plan = try ExperimentPlan.load(workspace: Workspace(root: fixture.workspace))
        guard case let .builtin(builtin) = plan.runner else { Issue.record("digits is a builtin plan"); return }
        let all = try CSVDataset.load(path: "\(fixture.workspace)/data/digits_8x8.csv", classCount: 10)
        var train: [Dataset] = [], validation: [Dataset] = []
        for i in 0..<sites.count {
            let shard = try Sharding.iid(count: sites.count, seed: plan.data.splitSeed).shard(i, of: all)
            let split = LocalSplit(shard, validationFraction: plan.data.validationFraction, seed: plan.data.splitSeed, standardization: .none)
            train.append(split.train)
            validation.append(split.validation)
        }
        let union = LocalSplit(train: Dataset.concatenating(train), validation: Dataset.concatenating(validation), standardization: .local)
        let runner = try BuiltinTaskRunner(settings: BuiltinRunnerSettings(
            architecture: builtin.architecture, optimizer: builtin.optimizer, batchSize: plan.data.batchSize,
            epochs: plan.taskArguments["train"]?["epochs"]?.intValue ?? 1, seed: builtin.seed,
            resetOptimizerEachRound: builtin.resetOptimizerEachRound, train: union.train, validation: union.validation))
        var model = builtin.architecture.initialModel(seed: builtin.seed)
        for round in 0..<plan.roundsToTrain {
            model = try #require(try runner.run(TaskInvocation(name: "train", function: .train, round: round), model: model).model)
        }
        let central = try #require(try runner.run(TaskInvocation(name: "validate", function: .validate, round: 0), model: model).metrics["accuracy"])
        #expect(central > 0.9)
        #expect(abs(federated - central) <= 0.02, "federated \(federated) vs central \(central)")
    }
}

extension FederationTests {
    /// The Director's participant list replaces cols.yaml (hospital_c is left out) and caps the weight
    /// of hospital_a's results at the 5 rows it registered, whatever it reports.
    @Test func theParticipantListChoosesTheCollaboratorsAndCapsTheirWeights() throws {
        let fixture = try FederationFixture(template: "breast_cancer", collaborators: ["hospital_a", "hospital_b", "hospital_c"])
        try fixture.edit("plan/plan.yaml", replacing: "rounds_to_train: 10", with: "rounds_to_train: 2")
        try fixture.initialize()
        let participants = fixture.directory.appending("participants.json")
        try ParticipantList(participants: [.init(name: "hospital_b", sampleCount: 1_000), .init(name: "hospital_a", sampleCount: 5)])
            .write(to: participants)
        let (aggregator, port) = try fixture.startAggregator(["--participants", participants])
        let sites = try ["hospital_a", "hospital_b"].map { try fixture.startCollaborator($0, port: port) }
        #expect(try aggregator.waitForExit(timeout: 120).isSuccess, "aggregator: \(aggregator.errorTail())")
        for site in sites { #expect(try site.waitForExit(timeout: 30).isSuccess, "\(site.name): \(site.errorTail())") }
        let started = FederationFixture.events("round_started", in: aggregator)
        #expect(!started.isEmpty && started.allSatisfy { $0["collaborators"] as? [String] == ["hospital_a", "hospital_b"] })
        let capped = aggregator.errorLines.filter { $0.contains("capped the weight of") }
        #expect(!capped.isEmpty && capped.allSatisfy { $0.contains("hospital_a") && $0.contains("its site registered 5") }, "\(capped)")
    }

    @Test func aMalformedParticipantListStopsTheAggregatorNamingTheFileAndField() throws {
        let fixture = try FederationFixture(template: "breast_cancer", collaborators: [])
        try fixture.initialize()
        let participants = fixture.directory.appending("participants.json")
        try #"{"participants": [{"name": "hospital_a", "sample_count": "many"}]}"#.write(toFile: participants, atomically: true, encoding: .utf8)
        let aggregator = try fixture.start("fx-aggregator", ["--workspace", fixture.workspace, "--port", "0", "--participants", participants],
                                           name: "aggregator")
        let status = try aggregator.waitForExit(timeout: 30)
        #expect(!status.isSuccess)
        #expect(aggregator.errorLines.contains { $0.contains("\(participants): participants[0].sample_count: expected a whole number") },
                "\(aggregator.errorTail())")
    }
}

extension Dataset {
    /// The rows of several datasets with the same columns, one after another.
    static func concatenating(_ parts: [Dataset]) -> Dataset {
        Dataset(features: parts.flatMap(\.features), labels: parts.flatMap(\.labels), featureNames: parts[0].featureNames,
                classCount: parts[0].classCount)
    }
}
