import Foundation
import FLCore
import FLTraining
import FLWire

// A site's task runner and its local data.
extension ExperimentPlan {
    /// The task runner of collaborator `name`, bound to its local data: the `data.yaml` entry, or
    /// `dataPath` when given (a site's own file, used whole).
    public func makeRunner(for name: String, dataPath: String? = nil, stateDirectory: String? = nil) throws -> any TaskRunner {
        guard let index = collaborators.firstIndex(of: name) else {
            throw WorkspaceError("'\(name)' is not a collaborator in \(workspace.collaboratorsPath) (collaborators: \(collaborators.joined(separator: ", ")))")
        }
        switch runner {
        case let .noop(n):
            return try NoopTaskRunner(parameterCount: n.parameters, offset: Float(n.offset), sampleCount: n.samples, secondsPerTask: n.secondsPerTask)
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
