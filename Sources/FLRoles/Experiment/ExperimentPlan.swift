import Foundation
import FLCore
import FLTraining
import FLWire

/// A workspace's plan read into typed settings and checked as a whole: every task a group names
/// exists, the best-model metric is one a validation produces, the collaborators are valid
/// certificate names, and so on. Errors name the file, line and setting.
///
/// Both ends read the same plan: the aggregator for rounds, groups and aggregation; a collaborator
/// for its tasks' arguments, its task runner and its data.
public struct ExperimentPlan: Sendable {
    public let plan: Plan
    public let workspace: Workspace
    /// `aggregator.settings.experiment_name`: what the aggregator and collaborators call the experiment
    /// unless told otherwise (the Director names each run itself).
    public let experimentName: String
    public let roundsToTrain: Int
    /// From `plan/cols.yaml`, in order, unless the loader was given the participants (a Director's
    /// experiment: its participants are the sites that accepted it, whatever `cols.yaml` says).
    public let collaborators: [String]
    public let tasks: [String: TaskDefinition]
    public let taskArguments: [String: [String: TaskArgument]]
    public let taskGroups: [TaskGroup]
    public let assignerSeed: UInt64
    /// `assigner.settings.fraction_per_round`: the share of the collaborators that train each round.
    public let fractionPerRound: Double
    public let runner: RunnerPlan
    public let data: DataPlan
    /// From `plan/data.yaml`: each collaborator's local data.
    public let shards: [String: ShardPlan]
    public let network: NetworkPlan
    public let aggregator: AggregatorPlan
    public let collaborator: CollaboratorPlan

    /// Reads `plan/plan.yaml` (with its defaults from `plan/`, then the installation's `plans/`),
    /// `plan/cols.yaml` and `plan/data.yaml` (optional: only collaborators need their entry), each
    /// checked against its schema (`ExperimentPlan.schema`): a key nothing reads is refused.
    /// `participants`, when given, are the collaborators instead of `cols.yaml`'s.
    public static func load(workspace: Workspace, installation: Installation? = nil, participants: ParticipantList? = nil) throws -> ExperimentPlan {
        var roots = [workspace.planDirectory]
        if let installation { roots.append(installation.plansDirectory) }
        let plan = try Plan.load(path: workspace.planPath, searchRoots: roots, schema: schema)
        let cols: CollaboratorSource = try participants.map { .participants($0.names) }
            ?? .file(Plan.load(path: workspace.collaboratorsPath, searchRoots: [], schema: collaboratorsSchema))
        var shards: [String: ShardPlan] = [:]
        if FileManager.default.fileExists(atPath: workspace.dataPath) {
            let data = try Plan.load(path: workspace.dataPath, searchRoots: [], schema: dataSchema)
            if !data.root.isNull {
                for entry in try data.entries("") { shards[entry.name] = try ShardPlan(entry) }
            }
        }
        return try ExperimentPlan(plan: plan, workspace: workspace, cols: cols, shards: shards)
    }

    /// Where the collaborators come from.
    enum CollaboratorSource {
        /// `plan/cols.yaml`.
        case file(Plan)
        /// A Director's participant list.
        case participants([String])
    }

    init(plan: Plan, workspace: Workspace, cols: CollaboratorSource, shards: [String: ShardPlan]) throws {
        self.plan = plan
        self.workspace = workspace
        self.shards = shards

        switch cols {
        case let .participants(participants):
            // Checked where they were read (`ParticipantList`).
            collaborators = participants
        case let .file(cols):
            collaborators = try cols.strings("collaborators")
            guard !collaborators.isEmpty else { throw PlanCheck.error(cols, "collaborators", "expected at least one collaborator") }
            var seen: Set<String> = []
            for (i, name) in collaborators.enumerated() {
                do { try PKI.validate(name: name) } catch {
                    throw PlanCheck.error(cols, "collaborators.\(i)", "'\(name)' cannot be a certificate name: \(error)")
                }
                guard seen.insert(name).inserted else { throw PlanCheck.error(cols, "collaborators.\(i)", "'\(name)' is listed twice") }
            }
        }

        experimentName = try plan.string("aggregator.settings.experiment_name", default: "experiment")
        roundsToTrain = try plan.int("aggregator.settings.rounds_to_train")
        guard (1...1_000_000).contains(roundsToTrain) else {
            throw PlanCheck.error(plan, "aggregator.settings.rounds_to_train", "expected 1 to 1000000 rounds, found \(roundsToTrain)")
        }

        // Tasks: every entry of `tasks` but its own `settings`.
        var tasks: [String: TaskDefinition] = [:]
        var arguments: [String: [String: TaskArgument]] = [:]
        for entry in try plan.entries("tasks") where entry.name != "settings" {
            let functionName = try entry.string("function")
            guard let function = TaskFunction(rawValue: functionName) else {
                throw PlanCheck.error(entry, "function", "expected train or validate, found '\(functionName)'")
            }
            var kwargs: [String: TaskArgument] = [:]
            if let mapping = try entry.sectionIfPresent("kwargs") {
                for argument in try mapping.entries("") { kwargs[argument.name] = try PlanCheck.argument(argument) }
            }
            var subject = TaskDefinition.Subject.global
            if function == .validate, let apply = kwargs["apply"] {
                guard let s = apply.stringValue.flatMap(TaskDefinition.Subject.init(rawValue:)) else {
                    throw PlanCheck.error(entry, "kwargs.apply", "expected global or local, found \(apply)")
                }
                subject = s
            }
            tasks[entry.name] = TaskDefinition(name: entry.name, function: function, subject: subject)
            arguments[entry.name] = kwargs
        }
        self.tasks = tasks
        self.taskArguments = arguments

        // Task groups.
        var groups: [TaskGroup] = []
        var total = 0.0
        for item in try plan.items("assigner.settings.task_groups") {
            let name = try item.string("name")
            let percentage = try item.double("percentage", default: 1)
            guard percentage > 0, percentage <= 1 else { throw PlanCheck.error(item, "percentage", "expected a share in (0, 1], found \(percentage)") }
            let names = try item.strings("tasks")
            guard !names.isEmpty else { throw PlanCheck.error(item, "tasks", "expected at least one task") }
            for (i, task) in names.enumerated() {
                guard let definition = tasks[task] else {
                    throw PlanCheck.error(item, "tasks.\(i)", "task '\(task)' is not defined under tasks (defined: \(tasks.keys.sorted().joined(separator: ", ")))")
                }
                if definition.function == .validate, definition.subject == .local {
                    let trainsBefore = names[..<i].contains { tasks[$0]?.function == .train }
                    guard trainsBefore else {
                        throw PlanCheck.error(item, "tasks.\(i)", "task '\(task)' validates the locally trained model, so a train task must come before it")
                    }
                }
            }
            total += percentage
            groups.append(TaskGroup(name: name, percentage: percentage, tasks: names))
        }
        guard !groups.isEmpty else { throw PlanCheck.error(plan, "assigner.settings.task_groups", "expected at least one task group") }
        guard abs(total - 1) < 1e-9 else {
            throw PlanCheck.error(plan, "assigner.settings.task_groups", "the groups' percentages add up to \(total), expected 1")
        }
        taskGroups = groups
        assignerSeed = UInt64(truncatingIfNeeded: try plan.int("assigner.settings.seed", default: 0))
        fractionPerRound = try plan.double("assigner.settings.fraction_per_round", default: 1)
        guard fractionPerRound > 0, fractionPerRound <= 1 else {
            throw PlanCheck.error(plan, "assigner.settings.fraction_per_round", "expected a fraction in (0, 1], found \(fractionPerRound)")
        }

        runner = try RunnerPlan(plan)
        data = try DataPlan(plan)
        switch (data.standardization, runner) {
        case let (.federated, .builtin(b)): federatedFeatures = b.architecture.inputCount
        case let (.federated, .external(e)):
            guard let features = e.inputFeatures else {
                throw PlanCheck.error(plan, "data_loader.settings.standardize",
                                      "federated standardization with an external runner needs task_runner.settings.input_features (the number of feature columns); or set standardize: local or none")
            }
            federatedFeatures = features
        default: federatedFeatures = nil
        }
        let runnerLayout = runner.layout
        var layout: ModelLayout
        do {
            layout = try federatedFeatures.map { try Standardizer.layout(runnerLayout, preprocessingFeatures: $0) } ?? runnerLayout
        } catch {
            throw PlanCheck.error(plan, "task_runner.settings.tensors", "a tensor named \(Standardizer.meanTensorName) or \(Standardizer.scaleTensorName) is the model's preprocessing; rename it")
        }
        network = try NetworkPlan(plan)
        aggregator = try AggregatorPlan(plan, collaboratorCount: collaborators.count, tasks: tasks, groups: groups)
        if aggregator.aggregation.function == AggregationSettings.Function.scaffold.rawValue {
            switch runner {
            case let .builtin(builtin):
                guard case .sgd = builtin.optimizer else {
                    throw PlanCheck.error(plan, "aggregator.settings.aggregation",
                                          "scaffold corrects SGD's gradients; task_runner.settings.optimizer is '\(builtin.optimizer)': set optimizer: sgd")
                }
            case .external: break  // the command adds the correction it is handed (docs/external-runner.md)
            case .noop:
                throw PlanCheck.error(plan, "aggregator.settings.aggregation", "scaffold needs sites that train (task_runner.template: builtin or external)")
            }
            layout = try ScaffoldControl.layout(layout, controlling: runnerLayout)
        }
        self.layout = layout
        collaborator = try CollaboratorPlan(plan)
    }

    /// The model every collaborator trains (names and shapes): the runner's, followed by the
    /// preprocess tensors when the federation standardizes with the sites' summed statistics.
    public let layout: ModelLayout

    /// The input features the federation's standardizer covers; nil unless it standardizes that way.
    public let federatedFeatures: Int?

    /// The starting model of the experiment: deterministic for the plan's seed; for an external
    /// runner, zeros, seeded, the safetensors file the plan ships (`initialize: file`), or what the
    /// site command's `initialize` function writes (`initialize: command`, checked against the
    /// declared tensors). The command runs only when `runningCommands` is true: on the data
    /// scientist's own machine (`fx plan initialize`), never at a Director.
    /// - Throws: `WorkspaceError` quoting the external command's failure or the file's problem.
    public func initialModel(runningCommands: Bool) throws -> ModelState {
        // The runner's own tensors lead whatever it returns (an external command's output is read into
        // the whole layout); the federation's tensors are appended here, once.
        let whole = try runnerInitialModel(runningCommands: runningCommands)
        let model = ModelState(layout: runner.layout, values: Array(whole.values[0..<runner.layout.count]))
        // Until the sites' statistics are in, the standardizer leaves features as they are.
        let carried = federatedFeatures.map { Standardizer.identity(features: $0).appendingPreprocessTensors(to: model) } ?? model
        return usesScaffold ? try ScaffoldControl.appendingZeros(to: carried, controlling: runner.layout) : carried
    }

    /// Whether the plan aggregates with SCAFFOLD: the model carries the server's control variate.
    public var usesScaffold: Bool { aggregator.aggregation.function == AggregationSettings.Function.scaffold.rawValue }

    /// Where site `name` keeps its SCAFFOLD control variate: in `stateDirectory` (the Envoy gives one
    /// that outlives the experiment's unpacked workspace), or the workspace's `save/` folder.
    public func scaffoldStatePath(for name: String, stateDirectory: String?) -> String {
        "\(stateDirectory ?? "\(workspace.root)/save")/scaffold-\(name).safetensors"
    }

    /// The runner's own starting model (without preprocessing).
    private func runnerInitialModel(runningCommands: Bool) throws -> ModelState {
        switch runner {
        case let .builtin(b):
            return b.architecture.initialModel(seed: b.seed)
        case .noop:
            return ModelState(zeros: runner.layout)
        case let .external(e):
            switch e.initialization {
            case .zeros: return ModelState(zeros: e.layout)
            case .seeded: return ExternalTaskRunner.seededModel(e.layout, seed: e.seed)
            case .file: return try shippedInitialModel(e)
            case .command:
                guard runningCommands else {
                    throw WorkspaceError("task_runner.settings.initialize is 'command', which runs the workspace's code; it runs only on your own machine (fx plan initialize)")
                }
                do {
                    return try ExternalTaskRunner(settings: externalSettings(e, collaborator: nil, index: 0, data: nil)).initialize()
                } catch {
                    throw WorkspaceError("\(error)\n  (task_runner.settings.initialize is 'command'; 'seeded' or 'zeros' makes the initial model without running it)")
                }
            }
        }
    }

    /// The model file an `initialize: file` plan ships, read without following links and checked
    /// against the declared tensors.
    private func shippedInitialModel(_ e: RunnerPlan.External) throws -> ModelState {
        let fd: Int32
        do { fd = try ContainedPath.openForReading(e.initialModelFile, inside: workspace.root) } catch {
            throw WorkspaceError("\(error) (task_runner.settings.initial_model; `fx plan initialize` with initialize: command writes it)")
        }
        defer { close(fd) }
        var model = try Safetensors.read(descriptor: fd, path: workspace.resolve(e.initialModelFile)).model
        // Its preprocess tensors, if it has any, are replaced by the federation's (or dropped).
        let own = model.layout.tensors.indices.filter { !Standardizer.isPreprocessTensor(model.layout.tensors[$0].name) }
        if own.count < model.layout.tensors.count {
            model = ModelState(layout: try ModelLayout(own.map { model.layout.tensors[$0] }), values: own.flatMap { model.values[model.layout.range(at: $0)] })
        }
        if let difference = e.layout.difference(from: model.layout) {
            throw WorkspaceError("\(workspace.resolve(e.initialModelFile)) does not match task_runner.settings.tensors: \(difference)")
        }
        return model
    }

    /// Refuses a plan that would run the workspace's own code wherever it is read, rather than only
    /// at the sites that approved it: today that is `initialize: command` (the Director makes the
    /// initial model). Errors name the file, line and column of the setting.
    public func checkRunsNoCodeOutsideSites() throws {
        guard case let .external(e) = runner, e.initialization == .command else { return }
        throw PlanCheck.error(plan, "task_runner.settings.initialize",
                              "'command' would run the workspace's code at the Director, which never runs submitted code; "
                              + "use seeded or zeros, or run `fx plan initialize` on your machine, copy save/init.safetensors to "
                              + "\(e.initialModelFile) and set initialize: file (the file travels in the archive)")
    }

    /// Where the initial model is kept in the workspace.
    public var initialModelPath: String { workspace.resolve(aggregator.initialModelPath) }

    /// The aggregator's settings for running this plan as experiment `experiment`.
    public func aggregatorSettings(experiment: String, tls: TLSConfiguration, host: String? = nil, port: Int? = nil) -> AggregatorSettings {
        let paths = AggregatorPaths(initialModel: workspace.resolve(aggregator.initialModelPath), bestModel: workspace.resolve(aggregator.bestModelPath),
                                    lastModel: workspace.resolve(aggregator.lastModelPath),
                                    checkpointDirectory: workspace.resolve(aggregator.checkpointDirectory),
                                    metricsLog: workspace.resolve(aggregator.metricsLogPath))
        let server = ServerConfiguration(host: host ?? network.host, port: port ?? network.port, tls: tls,
                                         limits: FrameLimits(maximumStreamSize: max(1 << 20, layout.byteCount)),
                                         handshakeTimeout: network.handshakeTimeout, idleTimeout: network.idleTimeout)
        var settings = AggregatorSettings(experiment: experiment, roundsToTrain: roundsToTrain, collaborators: collaborators, tasks: tasks,
                                          taskGroups: taskGroups, assignerSeed: assignerSeed, bestMetric: aggregator.bestMetric,
                                          higherIsBetter: aggregator.higherIsBetter, finalValidation: aggregator.finalValidation,
                                          aggregation: aggregator.aggregation, straggler: aggregator.straggler,
                                          maximumSampleCount: aggregator.maximumSampleCount, concurrentUpdates: aggregator.concurrentUpdates,
                                          longPollSeconds: collaborator.longPollSeconds, modelMetadata: modelMetadata,
                                          standardizationFeatures: federatedFeatures, paths: paths, server: server)
        settings.fractionPerRound = fractionPerRound
        return settings
    }

    /// A collaborator's settings for running this plan as experiment `experiment`.
    public func collaboratorSettings(name: String, experiment: String, aggregator endpoint: Endpoint? = nil, tls: TLSConfiguration) -> CollaboratorSettings {
        CollaboratorSettings(name: name, experiment: experiment,
                             aggregator: endpoint ?? Endpoint(host: network.host, port: network.port), aggregatorName: network.aggregatorName,
                             tls: tls, tasks: tasks, taskArguments: taskArguments,
                             limits: FrameLimits(maximumStreamSize: max(1 << 20, layout.byteCount)), connectTimeout: network.handshakeTimeout,
                             longPollSeconds: collaborator.longPollSeconds, idleTimeout: network.idleTimeout,
                             reconnectWindow: collaborator.reconnectWindow)
    }

    /// The task runner of collaborator `name`, bound to its local data: the `data.yaml` entry, or
    /// `dataPath` when given (a site's own file, used whole).
    public func makeRunner(for name: String, dataPath: String? = nil, stateDirectory: String? = nil) throws -> any TaskRunner {
        guard let index = collaborators.firstIndex(of: name) else {
            throw WorkspaceError("'\(name)' is not a collaborator in \(workspace.collaboratorsPath) (collaborators: \(collaborators.joined(separator: ", ")))")
        }
        switch runner {
        case let .noop(parameters, offset, samples):
            return try NoopTaskRunner(parameterCount: parameters, offset: Float(offset), sampleCount: samples)
        case let .builtin(builtin):
            let split = try localData(for: name, dataPath: dataPath, classCount: builtin.architecture.classCount)
            guard split.train.featureCount == builtin.architecture.inputCount else {
                throw WorkspaceError("\(name): the data has \(split.train.featureCount) features but the plan's model takes \(builtin.architecture.inputCount) (task_runner.settings.input_features)")
            }
            var settings = BuiltinRunnerSettings(
                architecture: builtin.architecture, optimizer: builtin.optimizer, batchSize: data.batchSize,
                epochs: taskArguments["train"]?["epochs"]?.intValue ?? 1, seed: builtin.seed, collaboratorIndex: index,
                resetOptimizerEachRound: builtin.resetOptimizerEachRound, train: split.train, validation: split.validation,
                standardizesFromModel: data.standardization == .federated)
            settings.proximalMu = builtin.proximalMu
            if usesScaffold { settings.scaffoldStatePath = scaffoldStatePath(for: name, stateDirectory: stateDirectory) }
            return try BuiltinTaskRunner(settings: settings)
        case let .external(external):
            let data = try externalData(for: name, dataPath: dataPath)
            guard FileManager.default.fileExists(atPath: data.path) else {
                throw WorkspaceError("\(name): the data file \(data.path) does not exist" + (dataPath == nil ? " (from \(workspace.dataPath))" : ""))
            }
            var settings = externalSettings(external, collaborator: name, index: index, data: data)
            if usesScaffold { settings.scaffoldStatePath = scaffoldStatePath(for: name, stateDirectory: stateDirectory) }
            if data.standardization == "federated" {
                // The command gets the federation's standardizer in the model; its share of the
                // statistics SwiftFL reads from the site's training rows itself.
                let rows = try localData(for: name, dataPath: dataPath, classCount: external.classes ?? 1 << 16)
                settings.featureStatistics = FeatureStatistics(rows.train)
            }
            return try ExternalTaskRunner(settings: settings)
        }
    }

    /// The external runner's settings for collaborator `collaborator` (nil: `initialize` at the aggregator).
    func externalSettings(_ e: RunnerPlan.External, collaborator: String?, index: Int, data: ExternalDataSettings?) -> ExternalRunnerSettings {
        ExternalRunnerSettings(command: e.command, layout: layout, workingDirectory: workspace.root, timeout: e.timeout,
                               terminationGrace: e.terminationGrace, environment: e.environment,
                               scratchDirectory: e.scratchDirectory.map(workspace.resolve), keepTaskDirectories: e.keepTaskDirectories,
                               collaborator: collaborator, collaboratorIndex: index, seed: e.seed, data: data, runnerSettings: e.settings)
    }

    /// What the external command is told about collaborator `name`'s data: the `data.yaml` entry
    /// (with the shard it gets of a shared file), or `dataPath` used whole. Nothing is read here.
    public func externalData(for name: String, dataPath: String? = nil) throws -> ExternalDataSettings {
        var settings = ExternalDataSettings(path: "", labelColumn: data.labelColumn, validationFraction: data.validationFraction,
                                            batchSize: data.batchSize, standardization: data.standardization.rawValue, split: DataPlan.Split.none.rawValue,
                                            splitSeed: Int(truncatingIfNeeded: data.splitSeed), dirichletAlpha: data.dirichletAlpha)
        if let dataPath {
            settings.path = dataPath
            return settings
        }
        guard let shard = shards[name] else {
            throw WorkspaceError("\(workspace.dataPath) has no entry for '\(name)' (entries: \(shards.keys.sorted().joined(separator: ", ")))")
        }
        settings.path = workspace.resolve(shard.path)
        if data.split != .none {
            let count = shard.shardCount ?? shards.values.filter { $0.path == shard.path }.count
            let index = shard.shardIndex ?? 0
            guard index < count else {
                throw WorkspaceError("\(workspace.dataPath): \(name).shard_index is \(index) but there are only \(count) shards")
            }
            settings.split = data.split.rawValue
            settings.shardIndex = index
            settings.shardCount = count
        }
        return settings
    }

    /// Collaborator `name`'s rows, split into training and validation and standardised.
    public func localData(for name: String, dataPath: String? = nil, classCount: Int) throws -> LocalSplit {
        let path: String
        var sharding: (Sharding, Int)?
        if let dataPath {
            path = dataPath
        } else {
            guard let shard = shards[name] else {
                throw WorkspaceError("\(workspace.dataPath) has no entry for '\(name)' (entries: \(shards.keys.sorted().joined(separator: ", ")))")
            }
            path = workspace.resolve(shard.path)
            if data.split != .none {
                let sameFile = shards.values.filter { $0.path == shard.path }.count
                let count = shard.shardCount ?? sameFile
                let index = shard.shardIndex ?? 0
                guard index < count else {
                    throw WorkspaceError("\(workspace.dataPath): \(name).shard_index is \(index) but there are only \(count) shards")
                }
                let method: Sharding = data.split == .dirichlet
                    ? .dirichlet(count: count, alpha: data.dirichletAlpha, seed: data.splitSeed)
                    : .iid(count: count, seed: data.splitSeed)
                sharding = (method, index)
            }
        }
        var dataset = try CSVDataset.load(path: path, labelColumn: data.labelColumn, classCount: classCount)
        if let (method, index) = sharding { dataset = try method.shard(index, of: dataset) }
        return LocalSplit(dataset, validationFraction: data.validationFraction, seed: data.splitSeed, stratified: true,
                          standardization: data.loading)
    }
}

/// How a site trains: SwiftFL's own runner, the site's own command (`external`), or one that only
/// measures the federation's overhead.
public enum RunnerPlan: Sendable {
    public struct Builtin: Sendable {
        public var architecture: NetworkArchitecture
        public var optimizer: OptimizerSettings
        public var resetOptimizerEachRound: Bool
        public var seed: UInt64
        /// FedProx's μ (`proximal_mu`; 0: none).
        public var proximalMu: Double = 0
    }

    /// The site's own command, run for each task through request files (docs/external-runner.md).
    public struct External: Sendable {
        /// Where `fx plan initialize` gets the starting model.
        public enum Initialization: String, Sendable, CaseIterable {
            /// Run the command with function `initialize`.
            case command
            /// Glorot-uniform weights from the plan's seed (tensors of two or more dimensions), zero 1-D tensors.
            case seeded
            /// Every parameter zero.
            case zeros
            /// The safetensors file `initial_model` names, shipped in the workspace (made beforehand,
            /// e.g. by `fx plan initialize` with `command` on the data scientist's machine).
            case file
        }

        /// The program and its arguments (a string in the plan runs through `/bin/sh -c`).
        public var command: [String]
        /// The declared tensors (`task_runner.settings.tensors`), all F32.
        public var layout: ModelLayout
        public var timeout: Double
        public var terminationGrace: Double
        public var environment: [String: String]
        /// Where task folders go, relative to the workspace unless absolute; nil for the system's temporary folder.
        public var scratchDirectory: String?
        public var keepTaskDirectories: Bool
        public var initialization: Initialization
        /// `task_runner.settings.initial_model`: the file `initialize: file` reads, relative to the workspace.
        public var initialModelFile: String
        public var seed: UInt64
        /// `task_runner.settings` as written, passed to the command.
        public var settings: PlanNode
        /// `task_runner.settings.input_features` and `classes`, when the plan gives them: what the
        /// federation's standardizer covers, and how SwiftFL reads the site's rows for its statistics.
        public var inputFeatures: Int?
        public var classes: Int?
    }

    case builtin(Builtin)
    /// Returns the model plus `offset`; `parameters` floats in one tensor.
    case noop(parameters: Int, offset: Double, samples: Int)
    case external(External)

    init(_ plan: Plan) throws {
        let template = try plan.string("task_runner.template", default: "builtin")
        let s = "task_runner.settings"
        switch template {
        case "builtin":
            let inputs = try plan.int("\(s).input_features")
            let classes = try plan.int("\(s).classes")
            let model = try plan.string("\(s).model", default: "mlp")
            let architecture: NetworkArchitecture
            switch model {
            case "softmax_regression", "logistic_regression":
                architecture = .softmaxRegression(inputs: inputs, classes: classes)
            case "mlp":
                let hidden = try plan.items("\(s).hidden_layers").map { item throws(PlanError) -> Int in
                    guard let n = item.node.asInt, n > 0 else { throw PlanCheck.error(item, "", "expected a positive layer width") }
                    return n
                }
                let activationName = try plan.string("\(s).activation", default: "relu")
                guard let activation = Activation(rawValue: activationName) else {
                    throw PlanCheck.error(plan, "\(s).activation", "expected relu or tanh, found '\(activationName)'")
                }
                architecture = .mlp(inputs: inputs, hidden: hidden, classes: classes, activation: activation)
            default:
                throw PlanCheck.error(plan, "\(s).model", "expected softmax_regression or mlp, found '\(model)'")
            }
            do { try architecture.validate() } catch { throw PlanCheck.error(plan, s, "\(error)") }
            let optimizerName = try plan.string("\(s).optimizer", default: "adam")
            let lr = try plan.double("\(s).learning_rate")
            guard lr > 0, lr.isFinite else { throw PlanCheck.error(plan, "\(s).learning_rate", "expected a positive number, found \(lr)") }
            let weightDecay = try plan.double("\(s).weight_decay", default: 0)
            let optimizer: OptimizerSettings
            switch optimizerName {
            case "sgd":
                optimizer = .sgd(learningRate: lr, momentum: try plan.double("\(s).momentum", default: 0),
                                 nesterov: try plan.bool("\(s).nesterov", default: false), weightDecay: weightDecay)
            case "adam":
                optimizer = .adam(learningRate: lr, beta1: try plan.double("\(s).beta1", default: 0.9), beta2: try plan.double("\(s).beta2", default: 0.999),
                                  epsilon: try plan.double("\(s).epsilon", default: 1e-8), weightDecay: weightDecay)
            default:
                throw PlanCheck.error(plan, "\(s).optimizer", "expected sgd or adam, found '\(optimizerName)'")
            }
            do { try optimizer.validate() } catch { throw PlanCheck.error(plan, s, "\(error)") }
            let mu = try plan.double("\(s).proximal_mu", default: 0)
            guard mu >= 0, mu.isFinite else { throw PlanCheck.error(plan, "\(s).proximal_mu", "expected 0 or more, found \(mu)") }
            self = .builtin(Builtin(architecture: architecture, optimizer: optimizer,
                                    resetOptimizerEachRound: try plan.bool("\(s).reset_optimizer_each_round", default: true),
                                    seed: UInt64(truncatingIfNeeded: try plan.int("\(s).seed", default: 0)), proximalMu: mu))
        case "noop":
            let parameters = try plan.int("\(s).parameters")
            guard parameters > 0, parameters <= ModelLayout.maximumCount else {
                throw PlanCheck.error(plan, "\(s).parameters", "expected a positive parameter count, found \(parameters)")
            }
            let samples = try plan.int("\(s).samples", default: 100)
            guard samples > 0 else { throw PlanCheck.error(plan, "\(s).samples", "expected a positive sample count") }
            self = .noop(parameters: parameters, offset: try plan.double("\(s).offset", default: 0.001), samples: samples)
        case "external":
            self = .external(try RunnerPlan.external(plan))
        default:
            throw PlanCheck.error(plan, "task_runner.template", "expected builtin, external or noop, found '\(template)'")
        }
    }

    private static func external(_ plan: Plan) throws -> External {
        let s = "task_runner.settings"
        let command: [String]
        guard let commandNode = plan.node(at: "\(s).command"), !commandNode.isNull else {
            throw PlanError(.missing, file: plan.path, keyPath: "\(s).command",
                            message: "the command the external runner runs for each task, e.g. [python3, src/train.py]")
        }
        if let line = commandNode.asString {
            guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { throw PlanCheck.error(plan, "\(s).command", "expected a command, found an empty string") }
            command = ["/bin/sh", "-c", line]
        } else {
            command = try plan.strings("\(s).command")
            guard let first = command.first, !first.isEmpty else {
                throw PlanCheck.error(plan, "\(s).command", "expected the program and its arguments, e.g. [python3, src/train.py]")
            }
        }

        var specs: [TensorSpec] = []
        guard let tensorsNode = plan.node(at: "\(s).tensors"), !tensorsNode.isNull else {
            throw PlanError(.missing, file: plan.path, keyPath: "\(s).tensors",
                            message: "the model's tensors, name: shape, e.g. {dense_0.weight: [10, 64], dense_0.bias: [10]}")
        }
        func shape(_ section: PlanSection) throws -> [Int] {
            guard let items = section.node.asSequence else {
                throw PlanCheck.error(section, "", "expected a shape, a list of non-negative integers such as [10, 64]")
            }
            return try items.enumerated().map { i, item in
                guard let n = item.asInt, n >= 0 else { throw PlanCheck.error(section, "\(i)", "expected a non-negative dimension") }
                return n
            }
        }
        if tensorsNode.asMapping != nil {
            // Tensor names hold dots (`dense_0.weight`), so entries are read from the mapping, not by dotted path.
            for entry in try plan.mapping("\(s).tensors") {
                let section = PlanSection(node: entry.value, path: "\(s).tensors.\(entry.key)", file: entry.value.location?.file ?? plan.path)
                specs.append(TensorSpec(name: entry.key, shape: try shape(section)))
            }
        } else if tensorsNode.asSequence != nil {
            for item in try plan.items("\(s).tensors") {
                let dtype = try item.string("dtype", default: DType.float32.rawValue)
                guard dtype == DType.float32.rawValue else { throw PlanCheck.error(item, "dtype", "expected F32 (models are float32), found '\(dtype)'") }
                specs.append(TensorSpec(name: try item.string("name"), shape: try shape(try item.section("shape"))))
            }
        } else {
            throw PlanCheck.error(plan, "\(s).tensors", "expected a mapping of tensor names to shapes, or a list of {name, shape}")
        }
        guard !specs.isEmpty else { throw PlanCheck.error(plan, "\(s).tensors", "expected at least one tensor") }
        let layout: ModelLayout
        do { layout = try ModelLayout(specs) } catch { throw PlanCheck.error(plan, "\(s).tensors", "\(error)") }

        var environment: [String: String] = [:]
        if let mapping = try plan.mappingIfPresent("\(s).environment") {
            for entry in mapping {
                guard !entry.key.isEmpty, !entry.key.contains("=") else {
                    throw PlanCheck.error(plan, "\(s).environment", "'\(entry.key)' cannot be an environment variable name")
                }
                switch entry.value.value {
                case let .string(v): environment[entry.key] = v
                case let .int(v): environment[entry.key] = String(v)
                case let .float(v): environment[entry.key] = String(v)
                case let .bool(v): environment[entry.key] = String(v)
                default:
                    throw PlanError(.type, file: entry.value.location?.file ?? plan.path, location: entry.value.location,
                                    keyPath: "\(s).environment.\(entry.key)", message: "expected a string value, found \(entry.value.value.summary)")
                }
            }
        }
        let timeout = try PlanCheck.positive(plan, "\(s).timeout", default: 3600)
        let grace = try plan.double("\(s).termination_grace", default: 5)
        guard grace >= 0, grace.isFinite else { throw PlanCheck.error(plan, "\(s).termination_grace", "expected a non-negative number of seconds, found \(grace)") }
        let initializationName = try plan.string("\(s).initialize", default: External.Initialization.command.rawValue)
        guard let initialization = External.Initialization(rawValue: initializationName) else {
            throw PlanCheck.error(plan, "\(s).initialize", "expected command, seeded, zeros or file, found '\(initializationName)'")
        }
        return External(command: command, layout: layout, timeout: timeout, terminationGrace: grace, environment: environment,
                        scratchDirectory: try PlanCheck.containedPathIfPresent(plan, "\(s).work_dir"),
                        keepTaskDirectories: try plan.bool("\(s).keep_task_dirs", default: false),
                        initialization: initialization, initialModelFile: try PlanCheck.containedPath(plan, "\(s).initial_model", default: "plan/init.safetensors"),
                        seed: UInt64(truncatingIfNeeded: try plan.int("\(s).seed", default: 0)),
                        settings: plan.node(at: s) ?? PlanNode(.mapping(PlanMapping())),
                        inputFeatures: try plan.intIfPresent("\(s).input_features"), classes: try plan.intIfPresent("\(s).classes"))
    }

    public var layout: ModelLayout {
        switch self {
        case let .builtin(b): b.architecture.layout
        case let .noop(parameters, _, _): try! ModelLayout([TensorSpec(name: "parameters", shape: [parameters])])
        case let .external(e): e.layout
        }
    }
}

/// How sites read their data.
public struct DataPlan: Sendable, Hashable {
    public enum Split: String, Sendable, Hashable {
        case none, iid, dirichlet
    }

    public var labelColumn: String
    public var validationFraction: Double
    public var batchSize: Int
    public var split: Split
    public var dirichletAlpha: Double
    public var splitSeed: UInt64
    /// How sites scale their features: not at all, each with its own training rows' statistics
    /// (`local`: no one outside can reproduce them), or all with the federation's (`federated`: the
    /// sites' counts, sums and sums of squares added up before the first round; the model carries them).
    public var standardization: ModelDescription.Standardization

    init(_ plan: Plan) throws {
        let s = "data_loader.settings"
        let format = try plan.string("\(s).format", default: "csv")
        guard format == "csv" else { throw PlanCheck.error(plan, "\(s).format", "expected csv, found '\(format)'") }
        labelColumn = try plan.string("\(s).label_column", default: "label")
        validationFraction = try plan.double("\(s).validation_fraction", default: 0.2)
        guard validationFraction > 0, validationFraction < 1 else {
            throw PlanCheck.error(plan, "\(s).validation_fraction", "expected a fraction between 0 and 1, found \(validationFraction)")
        }
        batchSize = try plan.int("\(s).batch_size", default: 32)
        guard batchSize > 0 else { throw PlanCheck.error(plan, "\(s).batch_size", "expected a positive batch size, found \(batchSize)") }
        let splitName = try plan.string("\(s).split", default: "none")
        guard let split = Split(rawValue: splitName) else {
            throw PlanCheck.error(plan, "\(s).split", "expected none, iid or dirichlet, found '\(splitName)'")
        }
        self.split = split
        dirichletAlpha = try plan.double("\(s).dirichlet_alpha", default: 0.5)
        guard dirichletAlpha > 0, dirichletAlpha.isFinite else {
            throw PlanCheck.error(plan, "\(s).dirichlet_alpha", "expected a positive number, found \(dirichletAlpha)")
        }
        splitSeed = UInt64(truncatingIfNeeded: try plan.int("\(s).split_seed", default: 0))
        switch plan.node(at: "\(s).standardize")?.value {
        case nil, .null?: standardization = .federated
        case let .bool(b)?: standardization = b ? .local : .none
        case let .string(name)?:
            guard let value = ModelDescription.Standardization(rawValue: name) else {
                throw PlanCheck.error(plan, "\(s).standardize", "expected federated, local or none, found '\(name)'")
            }
            standardization = value
        default:
            throw PlanCheck.error(plan, "\(s).standardize", "expected federated, local or none")
        }
    }

    /// How a site's rows are standardised before training when they are loaded: for `federated`,
    /// not yet (the runner applies the model's standardizer).
    var loading: Standardization { standardization == .local ? .local : .none }
}

/// One collaborator's entry in `plan/data.yaml`.
public struct ShardPlan: Sendable, Hashable {
    /// The data file, relative to the workspace (a site with its data elsewhere names it with `--data`).
    public var path: String
    /// Which part of a file shared by simulated sites is this site's (with the plan's split).
    public var shardIndex: Int?
    public var shardCount: Int?

    init(_ section: PlanSection) throws {
        path = try PlanCheck.containedPath(section, "path", default: nil)
        shardIndex = try section.intIfPresent("shard_index")
        shardCount = try section.intIfPresent("shard_count")
        if let i = shardIndex, i < 0 { throw PlanCheck.error(section, "shard_index", "expected a non-negative index, found \(i)") }
        if let c = shardCount, c < 1 { throw PlanCheck.error(section, "shard_count", "expected a positive count, found \(c)") }
    }
}

/// Where the aggregator listens and how long peers wait for each other.
public struct NetworkPlan: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var aggregatorName: String
    public var handshakeTimeout: Double
    public var idleTimeout: Double

    init(_ plan: Plan) throws {
        let s = "network.settings"
        host = try plan.string("\(s).agg_addr", default: "127.0.0.1")
        port = try plan.int("\(s).agg_port", default: 50051)
        guard (0...65535).contains(port) else { throw PlanCheck.error(plan, "\(s).agg_port", "expected a port 0-65535, found \(port)") }
        aggregatorName = try plan.string("\(s).agg_name", default: "aggregator")
        handshakeTimeout = try PlanCheck.positive(plan, "\(s).handshake_timeout", default: 10)
        idleTimeout = try PlanCheck.positive(plan, "\(s).idle_timeout", default: 60)
    }
}

/// The aggregator's part of the plan.
public struct AggregatorPlan: Sendable {
    /// `aggregation` and the settings of the functions it may name, each checked against its range.
    static func aggregation(_ plan: Plan, _ s: String) throws -> AggregationSettings {
        let function = try plan.string("\(s).aggregation", default: AggregationSettings.Function.fedavg.rawValue)
        guard AggregationSettings.known.contains(function) else {
            throw PlanCheck.error(plan, "\(s).aggregation", "expected one of \(AggregationSettings.known.joined(separator: ", ")), found '\(function)'")
        }
        func number(_ key: String, _ value: Double?, _ expected: String, _ valid: (Double) -> Bool) throws -> Double? {
            guard let value else { return nil }
            guard value.isFinite, valid(value) else { throw PlanCheck.error(plan, "\(s).\(key)", "expected \(expected), found \(value)") }
            return value
        }
        var settings = AggregationSettings(function: function)
        settings.serverLearningRate = try number("server_learning_rate", try plan.doubleIfPresent("\(s).server_learning_rate"), "a number above 0") { $0 > 0 }
        settings.serverMomentum = try number("server_momentum", try plan.double("\(s).server_momentum", default: 0.9), "a number in [0, 1)") { $0 >= 0 && $0 < 1 }!
        settings.serverBeta2 = try number("server_beta_2", try plan.double("\(s).server_beta_2", default: 0.99), "a number in [0, 1)") { $0 >= 0 && $0 < 1 }!
        settings.serverTau = try number("server_tau", try plan.double("\(s).server_tau", default: 1e-3), "a number above 0") { $0 > 0 }!
        settings.trimmedMeanBeta = try number("trimmed_mean_beta", try plan.double("\(s).trimmed_mean_beta", default: 0.2), "a fraction in [0, 0.5)") { $0 >= 0 && $0 < 0.5 }!
        settings.krumF = try plan.int("\(s).krum_f", default: 1)
        guard settings.krumF >= 0 else { throw PlanCheck.error(plan, "\(s).krum_f", "expected 0 or more sites, found \(settings.krumF)") }
        settings.multiKrumM = try plan.intIfPresent("\(s).multi_krum_m")
        if let m = settings.multiKrumM, m < 1 { throw PlanCheck.error(plan, "\(s).multi_krum_m", "expected 1 or more updates, found \(m)") }
        settings.maxUpdateNorm = try number("max_update_norm", try plan.doubleIfPresent("\(s).max_update_norm"), "a norm above 0") { $0 > 0 }
        settings.memoryBudget = try plan.int("\(s).aggregation_memory_budget", default: settings.memoryBudget)
        guard settings.memoryBudget >= 0 else {
            throw PlanCheck.error(plan, "\(s).aggregation_memory_budget", "expected 0 or more bytes, found \(settings.memoryBudget)")
        }
        return settings
    }

    public var initialModelPath: String
    public var bestModelPath: String
    public var lastModelPath: String
    public var checkpointDirectory: String
    public var metricsLogPath: String
    public var bestMetric: String
    public var higherIsBetter: Bool
    public var finalValidation: Bool
    public var aggregation: AggregationSettings
    public var straggler: StragglerPolicy
    public var maximumSampleCount: Int
    public var concurrentUpdates: Int

    init(_ plan: Plan, collaboratorCount: Int, tasks: [String: TaskDefinition], groups: [TaskGroup]) throws {
        let s = "aggregator.settings"
        initialModelPath = try PlanCheck.containedPath(plan, "\(s).init_state_path", default: "save/init.safetensors")
        bestModelPath = try PlanCheck.containedPath(plan, "\(s).best_state_path", default: "save/best.safetensors")
        lastModelPath = try PlanCheck.containedPath(plan, "\(s).last_state_path", default: "save/last.safetensors")
        checkpointDirectory = try PlanCheck.containedPath(plan, "\(s).checkpoint_dir", default: "save/checkpoint")
        metricsLogPath = try PlanCheck.containedPath(plan, "\(s).metrics_log", default: "logs/metrics.jsonl")
        bestMetric = try plan.string("\(s).best_metric", default: "aggregated_model_validation/accuracy")
        let parts = bestMetric.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, let task = tasks[parts[0]], task.function == .validate, task.subject == .global,
              groups.contains(where: { $0.tasks.contains(parts[0]) }) else {
            let candidates = groups.flatMap(\.tasks).filter { tasks[$0]?.function == .validate && tasks[$0]?.subject == .global }
            throw PlanCheck.error(plan, "\(s).best_metric", "expected task/metric naming a validation of the aggregated model that a task group runs (\(candidates.map { "\($0)/accuracy" }.joined(separator: ", "))), found '\(bestMetric)'")
        }
        higherIsBetter = try plan.bool("\(s).higher_is_better", default: true)
        finalValidation = try plan.bool("\(s).final_validation", default: true)
        aggregation = try AggregatorPlan.aggregation(plan, s)
        let minimum: StragglerPolicy.Minimum
        if let node = plan.node(at: "\(s).minimum_reporting"), !node.isNull {
            if let count = node.asInt {
                guard count >= 1, count <= collaboratorCount else {
                    throw PlanCheck.error(plan, "\(s).minimum_reporting", "expected a count from 1 to \(collaboratorCount) collaborators, found \(count)")
                }
                minimum = count == collaboratorCount ? .all : .count(count)
            } else if let fraction = node.asDouble {
                guard fraction > 0, fraction <= 1 else {
                    throw PlanCheck.error(plan, "\(s).minimum_reporting", "expected a fraction in (0, 1], found \(fraction)")
                }
                minimum = fraction == 1 ? .all : .fraction(fraction)
            } else {
                throw PlanCheck.error(plan, "\(s).minimum_reporting", "expected a count (integer) or a fraction (float)")
            }
        } else {
            minimum = .all
        }
        let timeout = try plan.doubleIfPresent("\(s).round_timeout")
        if let timeout, !(timeout > 0) { throw PlanCheck.error(plan, "\(s).round_timeout", "expected a positive number of seconds, found \(timeout)") }
        let onShortfall = try plan.string("\(s).on_shortfall", default: "retry")
        let shortfall: StragglerPolicy.Shortfall
        switch onShortfall {
        case "retry":
            let retries = try plan.int("\(s).max_retries", default: 3)
            guard retries >= 0 else { throw PlanCheck.error(plan, "\(s).max_retries", "expected a non-negative count") }
            shortfall = .retry(retries)
        case "fail":
            shortfall = .fail
        default:
            throw PlanCheck.error(plan, "\(s).on_shortfall", "expected retry or fail, found '\(onShortfall)'")
        }
        straggler = StragglerPolicy(minimumReporting: minimum, roundTimeout: timeout, shortfall: shortfall)
        maximumSampleCount = try plan.int("\(s).max_sample_count", default: 1_000_000_000)
        concurrentUpdates = try plan.int("\(s).concurrent_updates", default: 1)
        guard concurrentUpdates >= 1 else { throw PlanCheck.error(plan, "\(s).concurrent_updates", "expected at least 1") }
    }
}

/// The collaborators' part of the plan.
public struct CollaboratorPlan: Sendable, Hashable {
    public var longPollSeconds: Double
    public var reconnectWindow: Double

    init(_ plan: Plan) throws {
        longPollSeconds = try PlanCheck.positive(plan, "collaborator.settings.long_poll_seconds", default: 30)
        reconnectWindow = try PlanCheck.positive(plan, "collaborator.settings.reconnect_window", default: 300)
    }
}

/// Helpers that turn a setting whose value is wrong for the experiment into a `PlanError` at its line.
enum PlanCheck {
    static func error(_ section: some PlanAccessible, _ path: String, _ message: String) -> PlanError {
        let node = path.isEmpty ? section.accessNode : section.node(at: path)
        let full = [section.accessPath, path].filter { !$0.isEmpty }.joined(separator: ".")
        return PlanError(.type, file: node?.location?.file ?? section.accessFile, location: node?.location, keyPath: full, message: message)
    }

    /// A path setting that must name something inside the workspace (`ContainedPath.problem`);
    /// `default` nil makes it required.
    static func containedPath(_ section: some PlanAccessible, _ path: String, default value: String?) throws -> String {
        let text = try value.map { try section.string(path, default: $0) } ?? section.string(path)
        if let problem = ContainedPath.problem(text) { throw error(section, path, problem) }
        return text
    }

    /// Like `containedPath`, for a setting that may be absent or null.
    static func containedPathIfPresent(_ section: some PlanAccessible, _ path: String) throws -> String? {
        guard let text = try section.stringIfPresent(path) else { return nil }
        if let problem = ContainedPath.problem(text) { throw error(section, path, problem) }
        return text
    }

    static func positive(_ plan: Plan, _ path: String, default value: Double) throws -> Double {
        let v = try plan.double(path, default: value)
        guard v > 0, v.isFinite else { throw error(plan, path, "expected a positive number, found \(v)") }
        return v
    }

    /// A task argument from a plan value; mappings are not arguments.
    static func argument(_ section: PlanSection) throws -> TaskArgument {
        func convert(_ node: PlanNode, _ path: String) throws -> TaskArgument {
            switch node.value {
            case let .bool(b): return .bool(b)
            case let .int(i): return .int(i)
            case let .float(d): return .double(d)
            case let .string(s): return .string(s)
            case let .sequence(items): return .list(try items.enumerated().map { try convert($0.element, "\(path).\($0.offset)") })
            case .null, .mapping:
                throw PlanError(.type, file: node.location?.file ?? section.file, location: node.location, keyPath: path,
                                message: "expected a number, string, boolean or list as a task argument")
            }
        }
        return try convert(section.node, section.path)
    }
}

extension ExperimentPlan {
    /// Checks each collaborator's local data that is present on this machine against the model
    /// (features, classes) and returns one line per collaborator saying what was found.
    /// Throws for data that is present but does not fit.
    public func checkData() throws -> [String] {
        if case .external = runner {
            return try collaborators.map { name in
                guard shards[name] != nil else {
                    return "\(name): no entry in \(workspace.dataPath); that site must name its data when it starts (--data)"
                }
                let data = try externalData(for: name)
                let shown = data.path.hasPrefix(workspace.root + "/") ? String(data.path.dropFirst(workspace.root.count + 1)) : data.path
                let part = data.split == DataPlan.Split.none.rawValue ? "" : " (\(data.split) shard \(data.shardIndex) of \(data.shardCount))"
                guard FileManager.default.fileExists(atPath: data.path) else {
                    return "\(name): \(shown) is not on this machine; it is checked when the site starts"
                }
                return "\(name): \(shown)\(part), read by the external command"
            }
        }
        guard case let .builtin(builtin) = runner else { return ["data: not read by the \(runner.name) task runner"] }
        var lines: [String] = []
        for name in collaborators {
            guard let shard = shards[name] else {
                lines.append("\(name): no entry in \(workspace.dataPath); that site must name its data when it starts (--data)")
                continue
            }
            let path = workspace.resolve(shard.path)
            guard FileManager.default.fileExists(atPath: path) else {
                lines.append("\(name): \(shard.path) is not on this machine; it is checked when the site starts")
                continue
            }
            let split = try localData(for: name, classCount: builtin.architecture.classCount)
            guard split.train.featureCount == builtin.architecture.inputCount else {
                throw WorkspaceError("\(path): \(split.train.featureCount) features, but task_runner.settings.input_features is \(builtin.architecture.inputCount)")
            }
            lines.append("\(name): \(split.train.count) training and \(split.validation.count) validation rows from \(shard.path)"
                         + (data.split == .none ? "" : " (\(data.split.rawValue) shard \(shard.shardIndex ?? 0))"))
        }
        return lines
    }
}

extension RunnerPlan {
    /// The plan's name for this runner.
    public var name: String {
        switch self {
        case .builtin: "builtin"
        case .noop: "noop"
        case .external: "external"
        }
    }
}
