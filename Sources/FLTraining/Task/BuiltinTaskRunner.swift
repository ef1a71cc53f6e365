import FLCore
import Synchronization

/// Everything the built-in runner needs: the model, how to train it, and the site's data.
public struct BuiltinRunnerSettings: Sendable {
    public var architecture: NetworkArchitecture
    public var optimizer: OptimizerSettings
    public var batchSize: Int
    /// Local epochs per train task unless the task's `epochs` argument says otherwise.
    public var epochs: Int
    /// The federation's training seed; each round and site derives its own from it.
    public var seed: UInt64
    /// This site's position among the collaborators, so sites shuffle differently in the same round.
    public var collaboratorIndex: Int
    /// Start every round with fresh optimizer state (momentum, moments) rather than keeping it.
    public var resetOptimizerEachRound: Bool
    /// The local training rows: already standardised, or as loaded when `standardizesFromModel`.
    public var train: Dataset
    /// The local validation rows, standardised as the training rows are.
    public var validation: Dataset
    /// Whether the model carries the federation's standardizer (`preprocess.mean`, `preprocess.scale`
    /// after the network's tensors) and the rows are standardised with it, round by round.
    public var standardizesFromModel: Bool
    /// FedProx's μ (`proximal_mu`): 0 trains plain local SGD; above 0 pulls each local step towards
    /// the round's global model.
    public var proximalMu: Double = 0
    /// SCAFFOLD: where this site keeps its control variate between rounds (nil: no SCAFFOLD). The
    /// model then carries the server's control variate after its other tensors (`ScaffoldControl`).
    public var scaffoldStatePath: String?

    public init(
        architecture: NetworkArchitecture, optimizer: OptimizerSettings, batchSize: Int = 32, epochs: Int = 1, seed: UInt64 = 0,
        collaboratorIndex: Int = 0, resetOptimizerEachRound: Bool = true, train: Dataset, validation: Dataset, standardizesFromModel: Bool = false
    ) {
        self.architecture = architecture
        self.optimizer = optimizer
        self.batchSize = batchSize
        self.epochs = epochs
        self.seed = seed
        self.collaboratorIndex = collaboratorIndex
        self.resetOptimizerEachRound = resetOptimizerEachRound
        self.train = train
        self.validation = validation
        self.standardizesFromModel = standardizesFromModel
    }

    /// The seed for round `round` at this site: `derive(seed, round, collaboratorIndex)`. A rerun of a
    /// round reproduces its model exactly.
    public func trainingSeed(round: Int) -> UInt64 {
        SeededGenerator.derive(seed, UInt64(truncatingIfNeeded: round), UInt64(truncatingIfNeeded: collaboratorIndex))
    }
}

/// How a site scales its features before training.
public enum Standardization: Sendable, Equatable {
    /// Features as loaded.
    case none
    /// Fitted on this site's own training rows: fine for IID shards, harmful under label skew.
    case local
    /// One standardizer for every site: fixed in the plan, or from the sites' summed `FeatureStatistics`.
    case shared(Standardizer)
}

/// A site's local data split into training and validation rows, standardised with training statistics
/// only (this site's, or shared ones).
public struct LocalSplit: Sendable {
    public var train: Dataset
    public var validation: Dataset
    /// The statistics applied to both parts, if any.
    public var standardizer: Standardizer?

    /// Splits `data` (see `Dataset.trainValidation`) and standardises both parts.
    public init(_ data: Dataset, validationFraction: Double, seed: UInt64, stratified: Bool = true, standardization: Standardization = .local) {
        let (train, validation) = data.trainValidation(validationFraction: validationFraction, seed: seed, stratified: stratified)
        self.init(train: train, validation: validation, standardization: standardization)
    }

    /// Standardises the given parts.
    public init(train: Dataset, validation: Dataset, standardization: Standardization = .local) {
        switch standardization {
        case .none: standardizer = nil
        case .local: standardizer = Standardizer(fitting: train)
        case .shared(let s): standardizer = s
        }
        self.train = standardizer.map { $0.transform(train) } ?? train
        self.validation = standardizer.map { $0.transform(validation) } ?? validation
    }
}

/// Runs `train` and `validate` tasks with FLTraining's own networks and optimizers.
///
/// Train tasks take an optional `epochs` argument (an integer). Validate tasks take an optional `apply`
/// argument, `"global"` or `"local"`; it does not change what is measured, only the metric prefix the
/// caller reports. Metrics are `loss` and `accuracy`. Tasks run one at a time; the optimizer state kept
/// between rounds (when not reset) lives here.
public final class BuiltinTaskRunner: TaskRunner {
    public let settings: BuiltinRunnerSettings
    public let layout: ModelLayout
    private let engine: Mutex<Engine>

    private struct Engine {
        var trainer: Trainer
        var optimizer: any Optimizer
        /// The rows standardised with the last standardizer a model carried (it changes only once).
        var standardized: (standardizer: Standardizer, train: Dataset, validation: Dataset)?
    }

    /// The network's own tensors: the model's leading part when it also carries preprocessing.
    private let networkLayout: ModelLayout

    /// - Throws: `NetworkArchitectureError`, `OptimizerSettingsError`, or `TaskRunnerError` when the
    ///   settings or data do not fit together.
    public init(settings: BuiltinRunnerSettings) throws {
        try settings.architecture.validate()
        try settings.optimizer.validate()
        func fail(_ reason: String) -> TaskRunnerError { TaskRunnerError(task: "*", reason: reason) }
        guard settings.batchSize >= 1 else { throw fail("batch size must be positive, got \(settings.batchSize)") }
        guard settings.epochs >= 0 else { throw fail("epochs must be non-negative, got \(settings.epochs)") }
        for (name, part) in [("training", settings.train), ("validation", settings.validation)] {
            guard part.featureCount == settings.architecture.inputCount else {
                throw fail("\(name) data has \(part.featureCount) features, \(settings.architecture) expects \(settings.architecture.inputCount)")
            }
            guard part.classCount <= settings.architecture.classCount else {
                throw fail("\(name) data has \(part.classCount) classes, \(settings.architecture) has \(settings.architecture.classCount) outputs")
            }
        }
        self.settings = settings
        self.networkLayout = settings.architecture.layout
        let carried = settings.standardizesFromModel
            ? try Standardizer.layout(networkLayout, preprocessingFeatures: settings.architecture.inputCount) : networkLayout
        self.layout = settings.scaffoldStatePath == nil ? carried : try ScaffoldControl.layout(carried, controlling: networkLayout)
        let trainer = try Trainer(architecture: settings.architecture)
        let optimizer = settings.optimizer.makeOptimizer(layout: networkLayout)
        self.engine = Mutex(Engine(trainer: trainer, optimizer: optimizer))
    }

    public func run(_ task: TaskInvocation, model: ModelState) throws -> TaskOutcome {
        if let difference = layout.difference(from: model.layout) {
            throw TaskRunnerError(task: task.name, reason: "model does not fit \(settings.architecture): \(difference)")
        }
        guard settings.standardizesFromModel || settings.scaffoldStatePath != nil else {
            switch task.function {
            case .train: return try train(task, model: model, data: (settings.train, settings.validation)).outcome
            case .validate: return try validate(task, model: model, data: (settings.train, settings.validation))
            }
        }
        // The network's tensors lead; the preprocess tensors after them travel through unchanged, and
        // SCAFFOLD's control tensors (last) come back as this site's share of the next control variate.
        let n = networkLayout.count
        let controlStart = settings.scaffoldStatePath == nil ? model.values.count : model.values.count - n
        let network = ModelState(layout: networkLayout, values: Array(model.values[0..<n]))
        let data = settings.standardizesFromModel ? try standardizedRows(for: model, task: task.name) : (settings.train, settings.validation)
        switch task.function {
        case .train:
            guard let path = settings.scaffoldStatePath else {
                var outcome = try train(task, model: network, data: data).outcome
                if let trained = outcome.model { outcome.model = ModelState(layout: layout, values: trained.values + model.values[n...]) }
                return outcome
            }
            let server = model.values[controlStart...]
            let site: [Float]
            do { site = try ScaffoldControl.loadSiteControl(path, network: networkLayout, round: task.round) } catch {
                throw TaskRunnerError(task: task.name, reason: "\(error)")
            }
            let correction = zip(server, site).map { $0 - $1 }
            var (outcome, steps) = try train(task, model: network, data: data, correction: correction)
            guard let trained = outcome.model else { return outcome }
            let (next, returned) = ScaffoldControl.update(site: site, server: server, start: network.values, trained: trained.values,
                                                         steps: steps, learningRate: ScaffoldControl.stepSize(of: settings.optimizer))
            do { try ScaffoldControl.saveSiteControl(used: site, next: next, round: task.round, network: networkLayout, to: path) } catch {
                throw TaskRunnerError(task: task.name, reason: "cannot keep this site's SCAFFOLD control variate: \(error)")
            }
            outcome.model = ModelState(layout: layout, values: trained.values + model.values[n..<controlStart] + returned)
            return outcome
        case .validate:
            return try validate(task, model: network, data: data)
        }
    }

    /// The rows standardised with the standardizer `model` carries (kept while it stays the same).
    private func standardizedRows(for model: ModelState, task: String) throws -> (train: Dataset, validation: Dataset) {
        let carried: Standardizer?
        do { carried = try Standardizer.fromPreprocessTensors(of: model, featureCount: settings.architecture.inputCount) } catch {
            throw TaskRunnerError(task: task, reason: "the model's preprocessing cannot be applied: \(error)")
        }
        guard let standardizer = carried else { throw TaskRunnerError(task: task, reason: "the model carries no preprocess tensors") }
        let settings = self.settings
        return engine.withLock { engine in
            if let cached = engine.standardized, cached.standardizer == standardizer { return (cached.train, cached.validation) }
            let rows = (standardizer.transform(settings.train), standardizer.transform(settings.validation))
            engine.standardized = (standardizer, rows.0, rows.1)
            return rows
        }
    }

    /// The training rows' statistics, when the federation standardizes with statistics the sites add up.
    public func featureStatistics() throws -> FeatureStatistics? {
        settings.standardizesFromModel ? FeatureStatistics(settings.train) : nil
    }

    private func train(_ task: TaskInvocation, model: ModelState, data: (train: Dataset, validation: Dataset),
                       correction: [Float]? = nil) throws -> (outcome: TaskOutcome, steps: Int) {
        var epochs = settings.epochs
        if let argument = task.kwargs["epochs"] {
            guard let e = argument.intValue, e >= 0 else {
                throw TaskRunnerError(task: task.name, reason: "argument epochs must be a non-negative integer, got \(argument)")
            }
            epochs = e
        }
        guard !data.train.isEmpty else { throw TaskRunnerError(task: task.name, reason: "no local training rows") }
        let settings = self.settings
        var updated = model
        let metrics = try engine.withLock { engine in
            if settings.resetOptimizerEachRound { engine.optimizer.reset() }
            return try engine.trainer.train(
                model: &updated, data: data.train, epochs: epochs, batchSize: settings.batchSize,
                optimizer: &engine.optimizer, seed: settings.trainingSeed(round: task.round), proximalMu: settings.proximalMu,
                correction: correction)
        }
        return (TaskOutcome(model: updated, metrics: ["loss": metrics.loss, "accuracy": metrics.accuracy], sampleCount: metrics.sampleCount),
                metrics.steps)
    }

    private func validate(_ task: TaskInvocation, model: ModelState, data rows: (train: Dataset, validation: Dataset)) throws -> TaskOutcome {
        if let argument = task.kwargs["apply"] {
            guard let apply = argument.stringValue, apply == "global" || apply == "local" else {
                throw TaskRunnerError(task: task.name, reason: "argument apply must be \"global\" or \"local\", got \(argument)")
            }
        }
        guard !rows.validation.isEmpty else { throw TaskRunnerError(task: task.name, reason: "no local validation rows") }
        let data = rows.validation
        let metrics = try engine.withLock { engine in try engine.trainer.evaluate(model: model, data: data) }
        return TaskOutcome(model: nil, metrics: ["loss": metrics.loss, "accuracy": metrics.accuracy], sampleCount: metrics.sampleCount)
    }

    /// A copy of the optimizer state kept between rounds (meaningful when `resetOptimizerEachRound` is false).
    public var optimizerState: OptimizerState { engine.withLock { $0.optimizer.state } }

    /// Replaces the optimizer state, e.g. with one saved by a previous run of this site.
    /// - Throws: `OptimizerStateError`.
    public func restoreOptimizerState(_ state: OptimizerState) throws {
        try engine.withLock { try $0.optimizer.restore(state) }
    }
}
