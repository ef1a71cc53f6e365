import Foundation
import FLCore
import FLTraining
import FLWire
import FLPKI

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
        collaborators = try Self.collaborators(cols)
        experimentName = try plan.string("aggregator.settings.experiment_name", default: "experiment")
        roundsToTrain = try plan.int("aggregator.settings.rounds_to_train")
        guard (1...1_000_000).contains(roundsToTrain) else {
            throw PlanCheck.error(plan, "aggregator.settings.rounds_to_train", "expected 1 to 1000000 rounds, found \(roundsToTrain)")
        }
        (tasks, taskArguments) = try Self.tasks(plan)
        taskGroups = try Self.taskGroups(plan, tasks: tasks)
        assignerSeed = UInt64(truncatingIfNeeded: try plan.int("assigner.settings.seed", default: 0))
        fractionPerRound = try plan.double("assigner.settings.fraction_per_round", default: 1)
        guard fractionPerRound > 0, fractionPerRound <= 1 else {
            throw PlanCheck.error(plan, "assigner.settings.fraction_per_round", "expected a fraction in (0, 1], found \(fractionPerRound)")
        }
        runner = try RunnerPlan(plan)
        data = try DataPlan(plan)
        federatedFeatures = try Self.federatedFeatures(plan, data: data, runner: runner)
        network = try NetworkPlan(plan)
        aggregator = try AggregatorPlan(plan, collaboratorCount: collaborators.count, tasks: tasks, groups: taskGroups)
        layout = try Self.layout(plan, runner: runner, federatedFeatures: federatedFeatures, aggregation: aggregator.aggregation)
        collaborator = try CollaboratorPlan(plan)
    }

    /// The participants, or `cols.yaml`'s list: certificate names, each once.
    private static func collaborators(_ cols: CollaboratorSource) throws -> [String] {
        switch cols {
        case let .participants(participants):
            // Checked where they were read (`ParticipantList`).
            return participants
        case let .file(cols):
            let collaborators = try cols.strings("collaborators")
            guard !collaborators.isEmpty else { throw PlanCheck.error(cols, "collaborators", "expected at least one collaborator") }
            var seen: Set<String> = []
            for (i, name) in collaborators.enumerated() {
                do { try PKI.validate(name: name) } catch {
                    throw PlanCheck.error(cols, "collaborators.\(i)", "'\(name)' cannot be a certificate name: \(error)")
                }
                guard seen.insert(name).inserted else { throw PlanCheck.error(cols, "collaborators.\(i)", "'\(name)' is listed twice") }
            }
            return collaborators
        }
    }

    /// Every entry of `tasks` but its own `settings`, with its arguments.
    private static func tasks(_ plan: Plan) throws -> ([String: TaskDefinition], [String: [String: TaskArgument]]) {
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
        return (tasks, arguments)
    }

    /// The assigner's task groups: defined tasks, a training before any local validation, shares adding up to 1.
    private static func taskGroups(_ plan: Plan, tasks: [String: TaskDefinition]) throws -> [TaskGroup] {
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
        return groups
    }

    /// The input features the federation's standardizer covers, when the data is standardized that way.
    private static func federatedFeatures(_ plan: Plan, data: DataPlan, runner: RunnerPlan) throws -> Int? {
        switch (data.standardization, runner) {
        case let (.federated, .builtin(b)): return b.architecture.inputCount
        case let (.federated, .external(e)):
            guard let features = e.inputFeatures else {
                throw PlanCheck.error(plan, "data_loader.settings.standardize",
                                      "federated standardization with an external runner needs task_runner.settings.input_features (the number of feature columns); or set standardize: local or none")
            }
            return features
        default: return nil
        }
    }

    /// The runner's tensors, then the standardizer's and SCAFFOLD's control variate when the plan uses them.
    private static func layout(_ plan: Plan, runner: RunnerPlan, federatedFeatures: Int?, aggregation: AggregationSettings) throws -> ModelLayout {
        let runnerLayout = runner.layout
        var layout: ModelLayout
        do {
            layout = try federatedFeatures.map { try Standardizer.layout(runnerLayout, preprocessingFeatures: $0) } ?? runnerLayout
        } catch {
            throw PlanCheck.error(plan, "task_runner.settings.tensors", "a tensor named \(Standardizer.meanTensorName) or \(Standardizer.scaleTensorName) is the model's preprocessing; rename it")
        }
        guard aggregation.function == AggregationSettings.Function.scaffold.rawValue else { return layout }
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
        return try ScaffoldControl.layout(layout, controlling: runnerLayout)
    }

    /// The model every collaborator trains (names and shapes): the runner's, followed by the
    /// preprocess tensors when the federation standardizes with the sites' summed statistics.
    public let layout: ModelLayout

    /// The input features the federation's standardizer covers; nil unless it standardizes that way.
    public let federatedFeatures: Int?
}
