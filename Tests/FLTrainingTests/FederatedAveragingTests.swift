import FLCore
import FLTraining
import Testing

/// An in-process federation: sites are `BuiltinTaskRunner`s on IID shards, the aggregator a
/// sample-weighted average, compared with the same code trained centrally on the union of the shards.
@Suite struct FederatedAveragingTests {
    /// The digits plan's hyperparameters: MLP(64), SGD lr 0.05 momentum 0.9, batch 32, 1 local epoch per round.
    static let architecture = NetworkArchitecture.mlp(inputs: 64, hidden: [64], classes: 10)
    static let optimizer = OptimizerSettings.sgd(learningRate: 0.05, momentum: 0.9)
    static let rounds = 30

    func site(_ train: Dataset, validation: Dataset, index: Int) throws -> BuiltinTaskRunner {
        // Each site standardises with its own training statistics, as a real site would.
        let local = LocalSplit(train: train, validation: validation)
        return try BuiltinTaskRunner(settings: BuiltinRunnerSettings(
            architecture: Self.architecture, optimizer: Self.optimizer, batchSize: 32, epochs: 1, seed: 2024,
            collaboratorIndex: index, train: local.train, validation: local.validation))
    }

    /// Sum of `weight × model` over the updates, divided by the total weight, accumulated in double precision.
    func weightedAverage(_ updates: [(ModelState, Int)]) -> ModelState {
        let layout = updates[0].0.layout
        var sum = [Double](repeating: 0, count: layout.count)
        var total = 0.0
        for (model, weight) in updates {
            for i in sum.indices { sum[i] += Double(model.values[i]) * Double(weight) }
            total += Double(weight)
        }
        return ModelState(layout: layout, values: sum.map { Float($0 / total) })
    }

    @Test func fedAvgOnIIDShardsMatchesCentralTraining() throws {
        let (train, validation) = ShippedData.digits.trainValidation(validationFraction: 0.2, seed: 0)
        let shards = try Sharding.iid(count: 4, seed: 1).shards(of: train)
        let sites = try shards.enumerated().map { try site($1, validation: validation, index: $0) }
        let central = try site(train, validation: validation, index: 0)

        var global = Self.architecture.initialModel(seed: 5)
        var centralModel = global
        for round in 0..<Self.rounds {
            let task = TaskInvocation(name: "train", function: .train, round: round)
            let updates = try sites.map { site -> (ModelState, Int) in
                let outcome = try site.run(task, model: global)
                return (try #require(outcome.model), outcome.sampleCount)
            }
            #expect(updates.map(\.1).reduce(0, +) == train.count)
            global = weightedAverage(updates)
            centralModel = try #require(try central.run(task, model: centralModel).model)
        }

        // The federation's accuracy is the sample-weighted mean of what each site measures on the held-out rows.
        let validate = TaskInvocation(name: "aggregated_model_validation", function: .validate, round: Self.rounds, kwargs: ["apply": .string("global")])
        let reports = try sites.map { try $0.run(validate, model: global) }
        let federated = reports.map { $0.metrics["accuracy"]! * Double($0.sampleCount) }.reduce(0, +) / Double(reports.map(\.sampleCount).reduce(0, +))
        let centralized = try central.run(validate, model: centralModel).metrics["accuracy"]!
        print("digits FedAvg (4 IID sites, \(Self.rounds) rounds): \(federated); central (\(Self.rounds) epochs): \(centralized)")
        #expect(centralized >= 0.95)
        #expect(abs(federated - centralized) <= 0.02)
    }
}
