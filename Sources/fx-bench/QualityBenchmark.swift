import Foundation
import FLCore
import FLRoles
import FLTesting
import FLTraining

/// What the federation's model is worth on data no site saw: the digits data split 80/20 (stratified,
/// fixed seed); the 80 % divided among 8 sites by Dirichlet(0.3) label skew and trained for 20 rounds
/// of the `digits` template by real processes; the final model scored on the 20 % with its own
/// preprocessing, beside a centralized model trained in this process on all of the 80 % with the plan's
/// own network, optimizer and batch size for as many epochs as the federation had rounds.
enum QualityBenchmark {
    static let sites = 8, rounds = 20, alpha = 0.3, testFraction = 0.2, testSplitSeed: UInt64 = 2026

    static func run(_ report: BenchmarkReport) throws {
        // One split decides a few rows of 360 (0.28 points each): the mean over several says more.
        let trials = try (0..<trialCount).map { try trial(seed: UInt64($0)) }
        let federated = trials.map(\.federated).reduce(0, +) / Double(trials.count)
        let centralized = trials.map(\.centralized).reduce(0, +) / Double(trials.count)
        let gaps = trials.map { ($0.centralized - $0.federated) * 100 }
        let gap = (centralized - federated) * 100
        report.add(BenchmarkFigure(
            name: "quality_digits_dirichlet0.3_8sites_20rounds", value: federated * 100, unit: "% acc", reference: centralized * 100,
            ratio: federated / centralized, target: "within 1.5 points of the centralized model", met: gap <= 1.5,
            note: String(format: "mean over %d splits of the final model's accuracy on %d held-out rows; centralized: same network and optimizer, as many epochs on all %d training rows as each site ran; gap %.2f points (per split %@); %.1f s per federation",
                         trials.count, trials[0].testRows, trials[0].trainingRows, gap,
                         gaps.map { String(format: "%.2f", $0) }.joined(separator: ", "),
                         trials.map(\.seconds).reduce(0, +) / Double(trials.count))))
    }

    static let trialCount = 10

    struct Trial {
        var federated: Double
        var centralized: Double
        var testRows: Int
        var trainingRows: Int
        var seconds: Double
        /// The federation's own aggregated validation accuracy after each training round.
        var validation: [Double]
    }

    /// One split (`seed` picks the held-out rows and the sites' shares) trained both ways. `configure`
    /// edits the workspace after the split is set (another aggregation, FedProx); `hostile` sites run
    /// `hostileWorkspace` instead (another plan: the aggregator never sees the sites' plans).
    static func trial(seed: UInt64, alpha: Double = alpha, rounds: Int = rounds, configure: (FederationFixture) throws -> Void = { _ in },
                      hostile: Set<String> = [], hostileWorkspace: ((FederationFixture) throws -> String)? = nil,
                      centralized known: Double? = nil) throws -> Trial {
        let names = (1...sites).map { "site_\($0)" }
        let fixture = try FederationFixture(template: "digits", collaborators: names)
        let all = try CSVDataset.load(path: "\(fixture.workspace)/data/digits_8x8.csv", classCount: 10)
        let (pooled, test) = all.trainValidation(validationFraction: testFraction, seed: SeededGenerator.derive(testSplitSeed, seed), stratified: true)
        // The sites get the training part only; the test part stays outside the workspace.
        try write(pooled, to: "\(fixture.workspace)/data/digits_train.csv")
        try fixture.edit("plan/plan.yaml", replacing: "rounds_to_train: 20", with: "rounds_to_train: \(rounds)")
        try fixture.edit("plan/plan.yaml", replacing: "split: iid", with: "split: dirichlet")
        try fixture.edit("plan/plan.yaml", replacing: "dirichlet_alpha: 0.5", with: "dirichlet_alpha: \(alpha)")
        try fixture.edit("plan/plan.yaml", replacing: "split_seed: 0", with: "split_seed: \(seed)")
        try fixture.write("plan/cols.yaml", "collaborators:\n" + names.map { "  - \($0)\n" }.joined())
        try fixture.write("plan/data.yaml", names.enumerated().map { index, name in
            "\(name):\n  path: data/digits_train.csv\n  shard_index: \(index)\n"
        }.joined())
        try configure(fixture)
        try fixture.initialize()
        let hostilePath = try hostileWorkspace?(fixture)

        let started = RoundBenchmark.monotonicSeconds()
        let (aggregator, port) = try fixture.startAggregator()
        let collaborators = try names.map { name in
            try fixture.startCollaborator(name, port: port, workspace: hostile.contains(name) ? hostilePath : nil)
        }
        let status = try aggregator.waitForExit(timeout: 600)
        guard status.isSuccess else { throw BenchError("aggregator \(status): \(aggregator.errorTail())") }
        for c in collaborators { _ = c.process.wait(timeout: 60) }
        let seconds = RoundBenchmark.monotonicSeconds() - started
        // Every training round, then the final model's validation (and the best one's), each close as a round.
        let closedEvents = FederationFixture.events("round_closed", in: aggregator)
        let closed = closedEvents.compactMap { $0["round"] as? Int }
        guard (1...rounds).allSatisfy(closed.contains) else { throw BenchError("rounds closed: \(closed), expected 1...\(rounds)") }
        let validation = closedEvents.filter { ($0["final_validation"] as? Bool) != true }.compactMap { event -> Double? in
            (event["metrics"] as? [String: Any])?["aggregated_model_validation/accuracy"] as? Double
        }
        let federated = try TrainedModel.load("\(fixture.workspace)/save/last.safetensors").evaluate(test).accuracy

        let centralized: Double
        if let known {
            centralized = known
        } else {
            let plan = try ExperimentPlan.load(workspace: Workspace(root: fixture.workspace), installation: try? Installation.locate())
            guard case .builtin(let builtin) = plan.runner else { throw BenchError("the digits template no longer uses the builtin runner") }
            let epochs = rounds * (plan.taskArguments["train"]?["epochs"]?.intValue ?? 1)
            centralized = try centralizedAccuracy(builtin, epochs: epochs, batchSize: plan.data.batchSize, train: pooled, test: test)
        }
        return Trial(federated: federated, centralized: centralized, testRows: test.count, trainingRows: pooled.count, seconds: seconds,
                     validation: validation)
    }

    /// The plan's network trained on the pooled rows, standardized with their own statistics, scored on `test`.
    static func centralizedAccuracy(_ builtin: RunnerPlan.Builtin, epochs: Int, batchSize: Int, train: Dataset, test: Dataset) throws -> Double {
        let standardizer = Standardizer(fitting: train)
        let trainer = try Trainer(architecture: builtin.architecture)
        var model = builtin.architecture.initialModel(seed: builtin.seed)
        var optimizer = builtin.optimizer.makeOptimizer(layout: model.layout)
        _ = try trainer.train(model: &model, data: standardizer.transform(train), epochs: epochs, batchSize: batchSize,
                              optimizer: &optimizer, seed: builtin.seed)
        return try trainer.evaluate(model: model, data: standardizer.transform(test)).accuracy
    }

    /// `data` as a CSV file with a header (features, then `label`) that `CSVDataset.load` reads back exactly.
    static func write(_ data: Dataset, to path: String) throws {
        var text = (data.featureNames + ["label"]).joined(separator: ",") + "\n"
        let d = data.featureCount
        for r in 0..<data.count {
            for j in 0..<d { text += "\(data.features[r * d + j])," }
            text += "\(data.labels[r])\n"
        }
        try AtomicFile.write(Data(text.utf8), to: path)
    }
}
