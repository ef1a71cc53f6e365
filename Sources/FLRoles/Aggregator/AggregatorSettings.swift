import FLCore
import FLTraining
import FLWire
import FLPrivacy

/// When a round may close without every collaborator, and what happens when too few report.
public struct StragglerPolicy: Sendable, Hashable {
    /// How many collaborators must report for a round to count.
    public enum Minimum: Sendable, Hashable, CustomStringConvertible {
        case all
        case count(Int)
        /// A share of the collaborators assigned in the round, rounded up.
        case fraction(Double)

        /// The number of collaborators this minimum requires out of `assigned`.
        public func required(of assigned: Int) -> Int {
            switch self {
            case .all: assigned
            case let .count(n): min(n, assigned)
            case let .fraction(f): min(assigned, max(1, Int((f * Double(assigned)).rounded(.up))))
            }
        }

        public var description: String {
            switch self {
            case .all: "all"
            case let .count(n): "\(n)"
            case let .fraction(f): "\(f)"
            }
        }
    }

    /// What to do when the timeout passes with fewer than the minimum reported.
    public enum Shortfall: Sendable, Hashable {
        /// Run the round again from the same model, up to this many times, then fail.
        case retry(Int)
        /// End the experiment as failed.
        case fail
    }

    public var minimumReporting: Minimum
    /// Seconds after a round starts when it closes with whoever reported (if at least the minimum).
    /// Nil waits for everyone, however long.
    public var roundTimeout: Double?
    public var shortfall: Shortfall

    public init(minimumReporting: Minimum = .all, roundTimeout: Double? = nil, shortfall: Shortfall = .retry(3)) {
        self.minimumReporting = minimumReporting
        self.roundTimeout = roundTimeout
        self.shortfall = shortfall
    }
}

/// Where the aggregator reads and writes its files.
public struct AggregatorPaths: Sendable, Hashable {
    public var initialModel: String
    public var bestModel: String
    public var lastModel: String
    /// Folder for the state written after every round, for `--resume`.
    public var checkpointDirectory: String
    /// JSON lines, one per (round, origin, task, metric, value).
    public var metricsLog: String

    public init(initialModel: String, bestModel: String, lastModel: String, checkpointDirectory: String, metricsLog: String) {
        self.initialModel = initialModel
        self.bestModel = bestModel
        self.lastModel = lastModel
        self.checkpointDirectory = checkpointDirectory
        self.metricsLog = metricsLog
    }
}

/// Everything an aggregator needs to run one experiment, already checked for consistency
/// (built from a plan by `ExperimentPlan`).
public struct AggregatorSettings: Sendable {
    public var experiment: String
    public var roundsToTrain: Int
    /// Every collaborator allowed to take part (the plan's `cols.yaml`).
    public var collaborators: [String]
    public var tasks: [String: TaskDefinition]
    public var taskGroups: [TaskGroup]
    /// Seed for assigning collaborators to groups each round.
    public var assignerSeed: UInt64
    /// The share of the available collaborators that train in each round (client sampling; 1: all),
    /// chosen from `assignerSeed` and the round.
    public var fractionPerRound: Double = 1
    /// The aggregated metric that picks the best model, as `task/metric`.
    public var bestMetric: String
    public var higherIsBetter: Bool
    /// After the last round, run the global-model validations once more on the final model, so the
    /// last model has a measured score too.
    public var finalValidation: Bool
    public var aggregation: AggregationSettings
    public var straggler: StragglerPolicy
    /// Results claiming more samples than this are refused as implausible (the task counts as
    /// reported, its content is left out), with or without a cap.
    public var maximumSampleCount: Int
    /// Collaborator → the number of rows its site registered (with the Director), which bounds the
    /// weight of its results. A collaborator's sample count is its own claim; the weight of each
    /// accepted result (the FedAvg weight of an update, the weight of its metrics in the aggregated
    /// metrics) is `min(claimed, cap)`, and a claim above the cap is logged. Collaborators without an
    /// entry are weighted by their claim (empty: no caps). Every cap must be at least 1.
    public var sampleCaps: [String: Int]
    /// How many updates may be received at once; each needs a model-sized buffer.
    public var concurrentUpdates: Int
    /// Longest a collaborator's request for work is held before it is told to ask again.
    public var longPollSeconds: Double
    /// Entries every checkpoint's model file (and so `best` and `last`) carries in its safetensors
    /// metadata besides the checkpoint's own: the model's description (`ModelDescription`), so that a
    /// downloaded model says how to run it.
    public var modelMetadata: [String: String]
    /// The input features of the federation's standardizer when the sites standardize with their
    /// summed statistics: before the first round every site sends its count, sums and sums of squares,
    /// and the model's `preprocess.*` tensors get the result. Nil: no such phase.
    public var standardizationFeatures: Int?
    /// Secure aggregation (the plan's `secure_aggregation`): the training updates are summed under
    /// masks, stage by stage (`RoundMachine+SecureAggregation`). Nil: updates arrive in the clear.
    public var secureAggregation: SecureAggregationPlan?
    public var paths: AggregatorPaths
    public var server: ServerConfiguration
    /// Differential privacy (DP-FedAvg): each update clipped, noise on the sum, ε accounted after every
    /// training round, and the experiment stopped before a round that would spend past the budget.
    /// Nil: off. It needs `aggregation` fedavg (`ExperimentPlan` checks).
    public var differentialPrivacy: DifferentialPrivacyParameters? = nil

    public init(experiment: String, roundsToTrain: Int, collaborators: [String], tasks: [String: TaskDefinition],
                taskGroups: [TaskGroup], assignerSeed: UInt64 = 0, bestMetric: String, higherIsBetter: Bool = true,
                finalValidation: Bool = true, aggregation: AggregationSettings = AggregationSettings(),
                straggler: StragglerPolicy = StragglerPolicy(), maximumSampleCount: Int = 1_000_000_000,
                sampleCaps: [String: Int] = [:], concurrentUpdates: Int = 1, longPollSeconds: Double = 30, modelMetadata: [String: String] = [:],
                standardizationFeatures: Int? = nil, paths: AggregatorPaths, server: ServerConfiguration) {
        self.experiment = experiment
        self.roundsToTrain = roundsToTrain
        self.collaborators = collaborators
        self.tasks = tasks
        self.taskGroups = taskGroups
        self.assignerSeed = assignerSeed
        self.bestMetric = bestMetric
        self.higherIsBetter = higherIsBetter
        self.finalValidation = finalValidation
        self.aggregation = aggregation
        self.straggler = straggler
        self.maximumSampleCount = maximumSampleCount
        self.sampleCaps = sampleCaps
        self.concurrentUpdates = concurrentUpdates
        self.longPollSeconds = longPollSeconds
        self.modelMetadata = modelMetadata
        self.standardizationFeatures = standardizationFeatures
        self.paths = paths
        self.server = server
    }
}
