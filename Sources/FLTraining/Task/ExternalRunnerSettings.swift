import Foundation
import FLCore

/// Everything the external runner needs: the command, the model it exchanges with it, and what the
/// command is told about the site and its data. The protocol is in docs/external-runner.md.
public struct ExternalRunnerSettings: Sendable {
    /// The command: the program and its arguments. A program without a `/` is looked up on the
    /// `PATH` of the command's environment; one with a `/` is relative to `workingDirectory`.
    public var command: [String]
    /// The model the command reads and writes: names, shapes, dtype F32.
    public var layout: ModelLayout
    /// Where the command runs (the workspace); relative paths in the request are relative to it.
    public var workingDirectory: String
    /// Seconds a task may take before its process group is stopped.
    public var timeout: Double
    /// Seconds between SIGTERM and SIGKILL when a task is stopped.
    public var terminationGrace: Double
    /// Variables added to (or replacing) the collaborator's environment for the command.
    public var environment: [String: String]
    /// The folder the per-task folders are made in (default: the system's temporary folder).
    public var scratchDirectory: String?
    /// Keep each task's folder after success too (a failed task's folder is always kept).
    public var keepTaskDirectories: Bool
    /// This site's name; nil when no site is involved (`initialize` at the aggregator).
    public var collaborator: String?
    /// This site's position among the collaborators, so sites can derive different seeds.
    public var collaboratorIndex: Int
    /// The federation's training seed; each task's `seed` is derived from it, the round and the site.
    public var seed: UInt64
    /// The site's data as the plan describes it; nil when the task needs none (`initialize`).
    public var data: ExternalDataSettings?
    /// `task_runner.settings` of the plan, passed to the command as `settings` so hyperparameters
    /// (learning rate, batch size…) sit in the plan beside the built-in runner's.
    public var runnerSettings: PlanNode
    /// How many bytes of the command's standard error a failure report quotes.
    public var stderrTailBytes: Int
    /// This site's training rows' statistics when the federation standardizes with the sites' summed
    /// ones (read by SwiftFL, not the command); nil otherwise.
    public var featureStatistics: FeatureStatistics?
    /// SCAFFOLD: where this site keeps its control variate (nil: no SCAFFOLD). The SwiftFL side keeps
    /// it; the command adds the correction it is handed to its gradients and reports its steps.
    public var scaffoldStatePath: String?

    public init(command: [String], layout: ModelLayout, workingDirectory: String, timeout: Double = 3600, terminationGrace: Double = 5,
                environment: [String: String] = [:], scratchDirectory: String? = nil, keepTaskDirectories: Bool = false,
                collaborator: String? = nil, collaboratorIndex: Int = 0, seed: UInt64 = 0, data: ExternalDataSettings? = nil,
                runnerSettings: PlanNode = PlanNode(.mapping(PlanMapping())), stderrTailBytes: Int = 4096) {
        self.command = command
        self.layout = layout
        self.workingDirectory = workingDirectory
        self.timeout = timeout
        self.terminationGrace = terminationGrace
        self.environment = environment
        self.scratchDirectory = scratchDirectory
        self.keepTaskDirectories = keepTaskDirectories
        self.collaborator = collaborator
        self.collaboratorIndex = collaboratorIndex
        self.seed = seed
        self.data = data
        self.runnerSettings = runnerSettings
        self.stderrTailBytes = stderrTailBytes
    }

    /// The `seed` a task of round `round` is given: `derive(seed, round, collaboratorIndex)` folded
    /// into [0, 2³²), which every language's generators accept and JSON carries exactly.
    public func taskSeed(round: Int) -> UInt64 {
        SeededGenerator.derive(seed, UInt64(truncatingIfNeeded: round), UInt64(truncatingIfNeeded: collaboratorIndex)) & 0xFFFF_FFFF
    }
}

/// A site's data as the plan describes it, handed to the command as the request's `data` object.
/// The runner reads nothing itself: splitting, sharding and scaling are the command's work.
public struct ExternalDataSettings: Sendable, Hashable {
    /// The data file, absolute.
    public var path: String
    public var format: String
    public var labelColumn: String
    /// Share of the site's rows to hold out for validation.
    public var validationFraction: Double
    public var batchSize: Int
    /// How features are standardised: `none`, `local` (with this site's training statistics, by the
    /// command) or `federated` (with the federation's, which the model carries as `preprocess.mean`
    /// and `preprocess.scale`).
    public var standardization: String
    /// Whether the command standardises with its own training statistics (`local`).
    public var standardize: Bool { standardization == "local" }
    /// How one file shared by simulated sites is divided: `none`, `iid` or `dirichlet`.
    public var split: String
    /// This site's part of the file and how many parts there are (0 of 1 when `split` is `none`).
    public var shardIndex: Int
    public var shardCount: Int
    public var splitSeed: Int
    public var dirichletAlpha: Double

    public init(path: String, format: String = "csv", labelColumn: String = "label", validationFraction: Double = 0.2, batchSize: Int = 32,
                standardization: String = "local", split: String = "none", shardIndex: Int = 0, shardCount: Int = 1, splitSeed: Int = 0,
                dirichletAlpha: Double = 0.5) {
        self.path = path
        self.format = format
        self.labelColumn = labelColumn
        self.validationFraction = validationFraction
        self.batchSize = batchSize
        self.standardization = standardization
        self.split = split
        self.shardIndex = shardIndex
        self.shardCount = shardCount
        self.splitSeed = splitSeed
        self.dirichletAlpha = dirichletAlpha
    }
}
