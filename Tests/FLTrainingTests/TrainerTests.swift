import FLCore
import FLTraining
import Testing

@Suite struct TrainerTests {
    static let digitsSplit = LocalSplit(ShippedData.digits, validationFraction: 0.2, seed: 0)
    static let cancerSplit = LocalSplit(ShippedData.breastCancer, validationFraction: 0.2, seed: 0)

    func trainDigits(seed: UInt64, epochs: Int = 2) throws -> (ModelState, TrainingMetrics) {
        let architecture = NetworkArchitecture.mlp(inputs: 64, hidden: [32], classes: 10)
        var model = architecture.initialModel(seed: 1)
        var optimizer = SGD(layout: model.layout, learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-4)
        let metrics = try Trainer(architecture: architecture).train(
            model: &model, data: Self.digitsSplit.train, epochs: epochs, batchSize: 24, optimizer: &optimizer, seed: seed)
        return (model, metrics)
    }

    @Test func sameSeedGivesABitIdenticalModel() throws {
        let (a, ma) = try trainDigits(seed: 7)
        let (b, mb) = try trainDigits(seed: 7)
        #expect(a.values.map(\.bitPattern) == b.values.map(\.bitPattern))
        #expect(ma == mb)
        let (c, _) = try trainDigits(seed: 8)
        #expect(c.values != a.values)
    }

    /// From an all-zero model the proximal term μ/2·‖w − 0‖² is weight decay μ: FedProx with plain
    /// SGD must give bit for bit the model SGD with weight_decay μ gives.
    @Test func theProximalTermFromZeroIsWeightDecay() throws {
        let architecture = NetworkArchitecture.softmaxRegression(inputs: 64, classes: 10)
        let zero = ModelState(zeros: architecture.initialModel(seed: 0).layout)
        func train(mu: Double, weightDecay: Double) throws -> ModelState {
            var model = zero
            var optimizer = SGD(layout: model.layout, learningRate: 0.05, weightDecay: weightDecay)
            _ = try Trainer(architecture: architecture).train(model: &model, data: Self.digitsSplit.train, epochs: 2, batchSize: 16,
                                                              optimizer: &optimizer, seed: 4, proximalMu: mu)
            return model
        }
        let proximal = try train(mu: 0.3, weightDecay: 0)
        #expect(proximal.values.map(\.bitPattern) == (try train(mu: 0, weightDecay: 0.3)).values.map(\.bitPattern))
        #expect(proximal != (try train(mu: 0, weightDecay: 0)))
    }

    /// The larger μ, the closer local training stays to the model it started from.
    @Test func theProximalTermKeepsTheModelNearItsStart() throws {
        let architecture = NetworkArchitecture.mlp(inputs: 64, hidden: [32], classes: 10)
        let start = architecture.initialModel(seed: 1)
        func drift(_ mu: Double) throws -> Double {
            var model = start
            var optimizer = SGD(layout: model.layout, learningRate: 0.05, momentum: 0.9)
            _ = try Trainer(architecture: architecture).train(model: &model, data: Self.digitsSplit.train, epochs: 3, batchSize: 32,
                                                              optimizer: &optimizer, seed: 2, proximalMu: mu)
            return zip(model.values, start.values).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }.squareRoot()
        }
        let (none, some, strong) = (try drift(0), try drift(0.1), try drift(2))
        #expect(none > some && some > strong, "drift: μ=0 \(none), μ=0.1 \(some), μ=2 \(strong)")
        #expect(throws: TrainingError.self) { try drift(-1) }
    }

    @Test func zeroEpochsLeaveTheModelUnchanged() throws {
        let architecture = NetworkArchitecture.softmaxRegression(inputs: 64, classes: 10)
        let initial = architecture.initialModel(seed: 3)
        var model = initial
        var optimizer = SGD(layout: model.layout, learningRate: 0.1)
        let metrics = try Trainer(architecture: architecture).train(
            model: &model, data: Self.digitsSplit.train, epochs: 0, batchSize: 32, optimizer: &optimizer, seed: 0)
        #expect(model == initial)
        #expect(metrics.epochLosses.isEmpty)
        #expect(metrics.sampleCount == Self.digitsSplit.train.count)
    }

    @Test func breastCancerLogisticRegressionReaches95Percent() throws {
        let split = Self.cancerSplit
        let architecture = NetworkArchitecture.softmaxRegression(inputs: 30, classes: 2)
        let trainer = try Trainer(architecture: architecture)
        var model = architecture.initialModel(seed: 0)
        var optimizer = SGD(layout: model.layout, learningRate: 0.02, momentum: 0.9)
        let metrics = try trainer.train(model: &model, data: split.train, epochs: 30, batchSize: 32, optimizer: &optimizer, seed: 0)
        let validation = try trainer.evaluate(model: model, data: split.validation)
        print("breast cancer logistic regression: train loss \(metrics.loss), validation accuracy \(validation.accuracy)")
        #expect(validation.sampleCount == split.validation.count)
        #expect(validation.accuracy >= 0.95)
        #expect(metrics.epochLosses.last! < metrics.epochLosses.first!)
    }

    @Test func digitsMLPReaches93Percent() throws {
        let split = Self.digitsSplit
        let architecture = NetworkArchitecture.mlp(inputs: 64, hidden: [64], classes: 10)
        let trainer = try Trainer(architecture: architecture)
        var model = architecture.initialModel(seed: 0)
        var optimizer = SGD(layout: model.layout, learningRate: 0.05, momentum: 0.9)
        _ = try trainer.train(model: &model, data: split.train, epochs: 20, batchSize: 32, optimizer: &optimizer, seed: 0)
        let validation = try trainer.evaluate(model: model, data: split.validation)
        print("digits MLP(64): validation accuracy \(validation.accuracy)")
        #expect(validation.accuracy >= 0.93)
    }

    @Test func adamLearnsToo() throws {
        let split = Self.cancerSplit
        let architecture = NetworkArchitecture.mlp(inputs: 30, hidden: [8], classes: 2, activation: .tanh)
        let trainer = try Trainer(architecture: architecture)
        var model = architecture.initialModel(seed: 0)
        var optimizer = Adam(layout: model.layout, learningRate: 0.003)
        _ = try trainer.train(model: &model, data: split.train, epochs: 30, batchSize: 32, optimizer: &optimizer, seed: 0)
        #expect(try trainer.evaluate(model: model, data: split.validation).accuracy >= 0.95)
    }

    @Test func mismatchesAndDivergenceAreReported() throws {
        let architecture = NetworkArchitecture.softmaxRegression(inputs: 64, classes: 10)
        let trainer = try Trainer(architecture: architecture)
        let data = Self.digitsSplit.train
        var model = architecture.initialModel(seed: 0)
        var optimizer = SGD(layout: model.layout, learningRate: 0.1)
        func train(_ m: inout ModelState, _ d: Dataset, batch: Int = 32) throws {
            _ = try trainer.train(model: &m, data: d, epochs: 1, batchSize: batch, optimizer: &optimizer, seed: 0)
        }
        var other = NetworkArchitecture.softmaxRegression(inputs: 63, classes: 10).initialModel(seed: 0)
        #expect { try train(&other, data) } throws: { ($0 as? TrainingError).map { if case .layoutMismatch = $0 { true } else { false } } ?? false }
        #expect { try train(&model, Self.cancerSplit.train) } throws: { ($0 as? TrainingError).map { if case .dataMismatch = $0 { true } else { false } } ?? false }
        #expect(throws: TrainingError.emptyDataset) { try train(&model, data.subset([])) }
        #expect { try train(&model, data, batch: 0) } throws: { ($0 as? TrainingError).map { if case .invalidParameter = $0 { true } else { false } } ?? false }
        var wild = Adam(layout: model.layout, learningRate: 1e38)
        #expect(throws: TrainingError.diverged(epoch: 0)) {
            _ = try trainer.train(model: &model, data: data, epochs: 1, batchSize: 32, optimizer: &wild, seed: 0)
        }
        #expect(throws: NetworkArchitectureError.self) { try Trainer(architecture: .mlp(inputs: 4, hidden: [0], classes: 2)) }
        #expect(throws: NetworkArchitectureError.self) { try Trainer(architecture: .softmaxRegression(inputs: 4, classes: 1)) }
    }
}
