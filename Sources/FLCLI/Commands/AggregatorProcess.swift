import Foundation
import FLCore
import FLRoles
import FLWire

/// The aggregator's command line, shared by `fx aggregator start` (which hands over to the
/// `fx-aggregator` executable) and `fx-aggregator` itself.
public enum AggregatorProcess {
    static let experiment = Option(
        "--experiment", value: "NAME", help: "The experiment's name, which collaborators must give too (default: the plan's, or 'experiment').")
    static let host = Option("--host", value: "HOST", help: "Address to listen on (default: network.settings.agg_addr).")
    static let port = Option("--port", value: "PORT", help: "Port to listen on; 0 picks a free one (default: network.settings.agg_port).",
                             as: .integer(in: 0...65535))
    static let name = Option("--name", value: "NAME", help: "The aggregator's certificate name (default: network.settings.agg_name).")
    static let participants = Option(
        "--participants", value: "FILE",
        help: "JSON list of the collaborators and the rows each site registered (written by the Director): replaces plan/cols.yaml, and caps each one's weight.")
    static let resume = Flag("--resume", help: "Continue from the last completed round's checkpoint instead of starting over.")
    static let events = Flag("--events", help: "Write one JSON object per event to standard output (for the Director).")
    static let commands = Flag("--commands", help: "Read commands, one JSON object per line, on standard input (from the Director).")

    static let arguments: [any CommandArgument] = [
        WorkspaceCommands.workspace, experiment, host, port, RoleCommands.certificateDirectory, RoleCommands.revocationList, name,
        participants, resume, events, commands, ProcessLogging.level,
    ]

    static let discussion = """
    Serves the plan's rounds to the collaborators listed in plan/cols.yaml (or in --participants) and aggregates
    their updates. Writes save/best.safetensors, save/last.safetensors, a checkpoint after every round
    (save/checkpoint) and logs/metrics.jsonl. Exits 0 when the experiment completes, 1 when it fails, including
    when a model or checkpoint cannot be saved.

    --participants FILE: {"participants": [{"name": "hospital_a", "sample_count": 190}, ...]}. The experiment's
    collaborators are exactly these names, in this order; each one's results weigh at most its sample_count
    (a larger claim is capped and logged).
    """

    /// `fx-aggregator`.
    public static var command: Command {
        Command("fx-aggregator", abstract: "Run the aggregator of one experiment.", discussion: discussion, arguments: arguments, action: run)
            .versioned(BuildInfo.summary)
    }

    static func run(_ args: ParsedArguments, _ context: CommandContext) throws -> Int32 {
        ChildProcess.endWithSupervisor(environment: context.environment)
        let workspace = try WorkspaceCommands.workspace(args, context)
        let logger = try ProcessLogging.logger(label: "aggregator", file: "\(workspace.logsDirectory)/aggregator.log", args: args)
        let participantsPath = args[Self.participants].map(context.absolute)
        let participants = try participantsPath.map { try ParticipantList.read(from: $0) }
        let plan = try ExperimentPlan.load(workspace: workspace, installation: try? Installation.locate(environment: context.environment),
                                           participants: participants)
        let tls = RoleCommands.tls(args, context, workspace: workspace, name: args[Self.name] ?? plan.network.aggregatorName)
        var settings = plan.aggregatorSettings(experiment: args[Self.experiment] ?? plan.experimentName, tls: tls,
                                               host: args[Self.host], port: args[Self.port])
        if let path = participantsPath, let list = participants {
            settings.admit(list)
            logger.info("participants from \(path): " + list.participants.map { "\($0.name) (\($0.sampleCount) rows)" }.joined(separator: ", "))
        }
        guard FileManager.default.fileExists(atPath: settings.paths.initialModel) else {
            throw WorkspaceError("no initial model at \(settings.paths.initialModel); run `fx plan initialize --workspace \(workspace.root)` first")
        }
        let initial = try Safetensors.read(settings.paths.initialModel).model
        if let difference = plan.layout.difference(from: initial.layout) {
            throw WorkspaceError("\(settings.paths.initialModel) does not match the plan's model: \(difference); run `fx plan initialize` again")
        }
        var checkpoint: AggregatorCheckpoint?
        if args[Self.resume] {
            checkpoint = try AggregatorCheckpoint.read(from: settings.paths.checkpointDirectory)
            if let c = checkpoint {
                logger.info("resuming after round \(c.roundsCompleted) of \(plan.roundsToTrain)")
            } else {
                logger.info("no checkpoint in \(settings.paths.checkpointDirectory); starting from round 1")
            }
        }
        try workspace.createOutputDirectories()
        let events = args[Self.events]
        let console = context.console
        let rounds = plan.roundsToTrain
        let aggregator = try Aggregator(settings: settings, initialModel: initial, resumeFrom: checkpoint, logger: logger) { event in
            if events { console.print(event.jsonLine) }
            if case let .roundClosed(summary) = event { logger.info(summary.progressLine(roundsToTrain: rounds)) }
        }
        try aggregator.start()
        if args[Self.commands] { aggregator.followCommands(from: 0) }
        let outcome = aggregator.wait()
        if outcome.succeeded {
            let best = outcome.bestValue.map { " best \(settings.bestMetric)=\(String(format: "%.4f", $0))" } ?? ""
            logger.info("done: \(outcome.reason);\(best); models in \(workspace.saveDirectory)")
        }
        return outcome.succeeded ? 0 : 1
    }
}
