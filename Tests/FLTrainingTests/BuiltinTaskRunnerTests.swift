import FLCore
import FLTraining
import Testing

@Suite struct BuiltinTaskRunnerTests {
    static let architecture = NetworkArchitecture.mlp(inputs: 30, hidden: [8], classes: 2)
    static let split = LocalSplit(ShippedData.breastCancer, validationFraction: 0.2, seed: 0)

    func runner(reset: Bool = true, index: Int = 0, optimizer: OptimizerSettings = .sgd(learningRate: 0.05, momentum: 0.9)) throws -> BuiltinTaskRunner {
        try BuiltinTaskRunner(settings: BuiltinRunnerSettings(
            architecture: Self.architecture, optimizer: optimizer, batchSize: 16, epochs: 2, seed: 42,
            collaboratorIndex: index, resetOptimizerEachRound: reset, train: Self.split.train, validation: Self.split.validation))
    }

    func train(round: Int, _ kwargs: [String: TaskArgument] = [:]) -> TaskInvocation {
        TaskInvocation(name: "train", function: .train, round: round, kwargs: kwargs)
    }

    @Test func trainReturnsTheUpdatedModelWithMetricsAndSampleCount() throws {
        let r = try runner()
        let initial = Self.architecture.initialModel(seed: 0)
        let outcome = try r.run(train(round: 0), model: initial)
        let model = try #require(outcome.model)
        #expect(model.layout == r.layout)
        #expect(model != initial)
        #expect(outcome.sampleCount == Self.split.train.count)
        #expect(Set(outcome.metrics.keys) == ["loss", "accuracy"])
        #expect(outcome.metrics["accuracy"]! > 0.8)

        // The same training by hand: two epochs, the round's derived seed.
        var expected = initial
        var optimizer = SGD(layout: initial.layout, learningRate: 0.05, momentum: 0.9)
        let metrics = try Trainer(architecture: Self.architecture).train(
            model: &expected, data: Self.split.train, epochs: 2, batchSize: 16, optimizer: &optimizer,
            seed: SeededGenerator.derive(42, 0, 0))
        #expect(model == expected)
        #expect(outcome.metrics["loss"] == metrics.loss)
    }

    @Test func aModelCarryingTheFederationsStandardizerIsTrainedOnRowsScaledByIt() throws {
        let raw = LocalSplit(ShippedData.breastCancer, validationFraction: 0.2, seed: 0, standardization: .none)
        let r = try BuiltinTaskRunner(settings: BuiltinRunnerSettings(
            architecture: Self.architecture, optimizer: .sgd(learningRate: 0.05, momentum: 0.9), batchSize: 16, epochs: 2, seed: 42,
            train: raw.train, validation: raw.validation, standardizesFromModel: true))
        #expect(r.layout.tensors.suffix(2).map(\.name) == ["preprocess.mean", "preprocess.scale"])
        // Its share of the standardizer: the raw training rows' statistics.
        #expect(try r.featureStatistics() == FeatureStatistics(raw.train))
        let standardizer = Standardizer(fitting: raw.train)
        let initial = standardizer.appendingPreprocessTensors(to: Self.architecture.initialModel(seed: 0))
        let outcome = try r.run(train(round: 0), model: initial)
        let model = try #require(outcome.model)
        // The network trained as on rows standardized beforehand; the standardizer went through untouched.
        let network = ModelState(layout: Self.architecture.layout, values: Array(model.values[0..<Self.architecture.layout.count]))
        let byHand = try runner().run(train(round: 0), model: Self.architecture.initialModel(seed: 0))
        #expect(network == byHand.model)
        #expect(try Standardizer.fromPreprocessTensors(of: model, featureCount: 30) == standardizer)
        // A model without preprocess tensors is refused.
        let bare = ModelState(zeros: r.layout)
        #expect(throws: TaskRunnerError.self) { try r.run(train(round: 0), model: bare) }
    }

    @Test func epochsArgumentOverridesTheDefault() throws {
        let r = try runner()
        let initial = Self.architecture.initialModel(seed: 0)
        #expect(try r.run(train(round: 0, ["epochs": .int(0)]), model: initial).model == initial)
        let one = try r.run(train(round: 0, ["epochs": .int(1)]), model: initial).model
        let oneAsDouble = try r.run(train(round: 0, ["epochs": .double(1)]), model: initial).model
        let two = try r.run(train(round: 0), model: initial).model
        #expect(one == oneAsDouble)
        #expect(one != two)
        #expect(throws: TaskRunnerError.self) { try r.run(train(round: 0, ["epochs": .string("many")]), model: initial) }
        #expect(throws: TaskRunnerError.self) { try r.run(train(round: 0, ["epochs": .double(1.5)]), model: initial) }
    }

    @Test func validateMeasuresTheSameWhateverApplySays() throws {
        let r = try runner()
        let model = try #require(try r.run(train(round: 0), model: Self.architecture.initialModel(seed: 0)).model)
        func validate(_ kwargs: [String: TaskArgument]) throws -> TaskOutcome {
            try r.run(TaskInvocation(name: "validate", function: .validate, round: 0, kwargs: kwargs), model: model)
        }
        let global = try validate(["apply": .string("global")]), local = try validate(["apply": .string("local")]), plain = try validate([:])
        #expect(global == local && local == plain)
        #expect(global.model == nil)
        #expect(global.sampleCount == Self.split.validation.count)
        let direct = try Trainer(architecture: Self.architecture).evaluate(model: model, data: Self.split.validation)
        #expect(global.metrics == ["loss": direct.loss, "accuracy": direct.accuracy])
        #expect(throws: TaskRunnerError.self) { try validate(["apply": .string("both")]) }
    }

    @Test func rerunningARoundReproducesItAndSitesDiffer() throws {
        let initial = Self.architecture.initialModel(seed: 0)
        let a = try runner(index: 0).run(train(round: 3), model: initial)
        let b = try runner(index: 0).run(train(round: 3), model: initial)
        let otherSite = try runner(index: 1).run(train(round: 3), model: initial)
        let otherRound = try runner(index: 0).run(train(round: 4), model: initial)
        #expect(a == b)
        #expect(a.model != otherSite.model)
        #expect(a.model != otherRound.model)
    }

    @Test func optimizerStateIsResetOrKeptBetweenRounds() throws {
        let initial = Self.architecture.initialModel(seed: 0)
        // With reset, round 1 does not depend on what round 0 did; kept momentum changes it.
        let resetting = try runner(reset: true), keeping = try runner(reset: false)
        _ = try resetting.run(train(round: 0), model: initial)
        _ = try keeping.run(train(round: 0), model: initial)
        #expect(keeping.optimizerState.step > 0)
        let afterReset = try resetting.run(train(round: 1), model: initial)
        let afterKeep = try keeping.run(train(round: 1), model: initial)
        let fresh = try runner(reset: true).run(train(round: 1), model: initial)
        #expect(afterReset == fresh)
        #expect(afterKeep.model != fresh.model)

        // Saved state, restored into a new runner, continues identically.
        let saved = try runner(reset: false)
        _ = try saved.run(train(round: 0), model: initial)
        let restored = try runner(reset: false)
        try restored.restoreOptimizerState(saved.optimizerState)
        #expect(try restored.run(train(round: 1), model: initial) == (try saved.run(train(round: 1), model: initial)))
    }

    @Test func mismatchedModelsAndSettingsAreRejected() throws {
        let r = try runner()
        let wrong = NetworkArchitecture.mlp(inputs: 30, hidden: [9], classes: 2).initialModel(seed: 0)
        #expect(throws: TaskRunnerError.self) { try r.run(train(round: 0), model: wrong) }
        let digits = LocalSplit(ShippedData.digits, validationFraction: 0.2, seed: 0)
        #expect(throws: TaskRunnerError.self) {
            try BuiltinTaskRunner(settings: BuiltinRunnerSettings(
                architecture: Self.architecture, optimizer: .sgd(learningRate: 0.1), train: digits.train, validation: digits.validation))
        }
        #expect(throws: OptimizerSettingsError.self) { try runner(optimizer: .adam(learningRate: -1)) }
    }
}
