import Foundation
import FLCore
import FLRoles
import FLWire

/// The aggregator's command line, shared by `fx aggregator start` (which hands over to the
/// `fx-aggregator` executable) and `fx-aggregator` itself.
public enum AggregatorProcess {
    static let arguments: [ArgumentSpec] = [
        WorkspaceCommands.workspaceOption,
        .option("--experiment", value: "NAME", help: "The experiment's name, which collaborators must give too (default: the plan's, or 'experiment')."),
        .option("--host", value: "HOST", help: "Address to listen on (default: network.settings.agg_addr)."),
        .option("--port", value: "PORT", help: "Port to listen on; 0 picks a free one (default: network.settings.agg_port)."),
        .option("--cert-dir", value: "DIR", help: "Folder with ca.crt, NAME.crt and NAME.key (default: <workspace>/cert)."),
        .option("--crl", value: "FILE", help: "The CA's certificate revocation list, re-read whenever it changes (default: none)."),
        .option("--name", value: "NAME", help: "The aggregator's certificate name (default: network.settings.agg_name)."),
        .option("--participants", value: "FILE",
                help: "JSON list of the collaborators and the rows each site registered (written by the Director): replaces plan/cols.yaml, and caps each one's weight."),
        .flag("--resume", help: "Continue from the last completed round's checkpoint instead of starting over."),
        .flag("--events", help: "Write one JSON object per event to standard output (for the Director)."),
        .flag("--commands", help: "Read commands, one JSON object per line, on standard input (from the Director)."),
        .option("--log-level", value: "LEVEL", help: "debug, info, warning or error (default: info)."),
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
        let workspace = Workspace(root: context.absolute(args.option("--workspace") ?? "."))
        let logger = try ProcessLogging.logger(label: "aggregator", file: "\(workspace.logsDirectory)/aggregator.log", args: args)
        let participantsPath = args.option("--participants").map(context.absolute)
        let participants = try participantsPath.map { try ParticipantList.read(from: $0) }
        let plan = try ExperimentPlan.load(workspace: workspace, installation: try? Installation.locate(environment: context.environment),
                                           participants: participants)
        let name = args.option("--name") ?? plan.network.aggregatorName
        let tls = TLSConfiguration(certificateDirectory: context.absolute(args.option("--cert-dir") ?? workspace.certificateDirectory), name: name,
                                   revocationListPath: args.option("--crl").map(context.absolute))
        let experiment = args.option("--experiment") ?? plan.experimentName
        var settings = plan.aggregatorSettings(experiment: experiment, tls: tls, host: args.option("--host"),
                                               port: try args.int("--port", in: 0...65535))
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
        if args.flag("--resume") {
            checkpoint = try AggregatorCheckpoint.read(from: settings.paths.checkpointDirectory)
            if let c = checkpoint {
                logger.info("resuming after round \(c.roundsCompleted) of \(plan.roundsToTrain)")
            } else {
                logger.info("no checkpoint in \(settings.paths.checkpointDirectory); starting from round 1")
            }
        }
        try workspace.createOutputDirectories()
        let events = args.flag("--events")
        let console = context.console
        let rounds = plan.roundsToTrain
        let aggregator = try Aggregator(settings: settings, initialModel: initial, resumeFrom: checkpoint, logger: logger) { event in
            if events { console.print(event.jsonLine) }
            if case let .roundClosed(summary) = event { logger.info(summary.progressLine(roundsToTrain: rounds)) }
        }
        try aggregator.start()
        if args.flag("--commands") { aggregator.followCommands(from: 0) }
        let outcome = aggregator.wait()
        if outcome.succeeded {
            let best = outcome.bestValue.map { " best \(settings.bestMetric)=\(String(format: "%.4f", $0))" } ?? ""
            logger.info("done: \(outcome.reason);\(best); models in \(workspace.saveDirectory)")
        }
        return outcome.succeeded ? 0 : 1
    }
}

/// The collaborator's command line, shared by `fx collaborator start` and `fx-collaborator`.
public enum CollaboratorProcess {
    static let arguments: [ArgumentSpec] = [
        .option("--name", value: "NAME", help: "This collaborator's name (its certificate name, listed in plan/cols.yaml).", required: true),
        WorkspaceCommands.workspaceOption,
        .option("--experiment", value: "NAME", help: "The experiment's name, as the aggregator has it."),
        .option("--aggregator", value: "HOST:PORT", help: "Where the aggregator listens (default: network.settings agg_addr:agg_port)."),
        .option("--aggregator-name", value: "NAME", help: "The name the aggregator's certificate must carry (default: network.settings.agg_name)."),
        .option("--cert-dir", value: "DIR", help: "Folder with ca.crt, NAME.crt and NAME.key (default: <workspace>/cert)."),
        .option("--crl", value: "FILE", help: "The CA's certificate revocation list, re-read whenever it changes (default: none)."),
        .option("--data", value: "FILE", help: "This site's data file, used whole (default: its entry in plan/data.yaml)."),
        .option("--participants", value: "FILE", help: "The experiment's collaborators, from the Director, instead of plan/cols.yaml."),
        .option("--min-statistics-rows", value: "N", help: "Fewest training rows this site sends feature statistics about (default: 10)."),
        .option("--state-dir", value: "DIR", help: "Where the site keeps what it carries between rounds (SCAFFOLD's control variate; default: the workspace's save/)."),
        .option("--log-level", value: "LEVEL", help: "debug, info, warning or error (default: info)."),
    ]

    /// `fx-collaborator`.
    public static var command: Command {
        Command("fx-collaborator", abstract: "Run one site's collaborator in an experiment.",
                discussion: "Dials out to the aggregator, runs the tasks it assigns on the local data, and sends back metrics and updates.",
                arguments: arguments, action: run)
            .versioned(BuildInfo.summary)
    }

    static func run(_ args: ParsedArguments, _ context: CommandContext) throws -> Int32 {
        ChildProcess.endWithSupervisor(environment: context.environment)
        let workspace = Workspace(root: context.absolute(args.option("--workspace") ?? "."))
        let name = try args.required("--name")
        let logger = try ProcessLogging.logger(label: name, file: "\(workspace.logsDirectory)/\(name).log", args: args)
        let participants = try args.option("--participants").map { try ParticipantList.read(from: context.absolute($0)) }
        let plan = try ExperimentPlan.load(workspace: workspace, installation: try? Installation.locate(environment: context.environment),
                                           participants: participants)
        let tls = TLSConfiguration(certificateDirectory: context.absolute(args.option("--cert-dir") ?? workspace.certificateDirectory), name: name,
                                   revocationListPath: args.option("--crl").map(context.absolute))
        let endpoint = try args.endpoint("--aggregator").map { Endpoint(host: $0.host, port: $0.port) }
        var settings = plan.collaboratorSettings(name: name, experiment: args.option("--experiment") ?? plan.experimentName,
                                                 aggregator: endpoint, tls: tls)
        if let aggregatorName = args.option("--aggregator-name") { settings.aggregatorName = aggregatorName }
        if let minimum = try args.int("--min-statistics-rows", in: 1...Int.max) { settings.minimumStatisticsRows = minimum }
        let runner = try plan.makeRunner(for: name, dataPath: args.option("--data").map(context.absolute),
                                         stateDirectory: args.option("--state-dir").map(context.absolute))
        let outcome = try Collaborator(settings: settings, runner: runner, logger: logger).run()
        return outcome.succeeded ? 0 : 1
    }
}

/// Logging set-up shared by the long-running processes: readable lines on standard error and JSON
/// lines in the workspace's log file.
enum ProcessLogging {
    static func logger(label: String, file: String, args: ParsedArguments) throws -> Logger {
        let levelName = args.option("--log-level") ?? "info"
        guard let level = LogLevel(name: levelName) else {
            throw CommandLineError(commandPath: args.commandPath, message: "--log-level expects debug, info, warning or error, got '\(levelName)'")
        }
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        return Logger(label: label, sink: try JSONLinesLogSink(path: file), minimumLevel: level)
    }
}

/// `fx aggregator` and `fx collaborator`: start the role executables.
enum RoleCommands {
    static var aggregator: Command {
        Command("aggregator", abstract: "Run an experiment's aggregator.", subcommands: [
            Command("start", abstract: "Start the aggregator (runs fx-aggregator).", discussion: AggregatorProcess.discussion,
                    arguments: AggregatorProcess.arguments) { _, _ in try handOver(to: "fx-aggregator") },
        ])
    }

    static var collaborator: Command {
        Command("collaborator", abstract: "Run a site's collaborator.", subcommands: [
            Command("start", abstract: "Start a collaborator (runs fx-collaborator).", arguments: CollaboratorProcess.arguments) { _, _ in
                try handOver(to: "fx-collaborator")
            },
        ])
    }

    /// Replaces this process with the sibling executable, passing on the arguments after `start`,
    /// so signals and the exit status are the role's own. Arguments were already checked.
    static func handOver(to executable: String) throws -> Int32 {
        guard let path = ChildProcess.siblingExecutable(executable) else {
            throw WorkspaceError("cannot find the \(executable) executable next to fx; build the package (swift build)")
        }
        let words = Array(CommandLine.arguments.drop { $0 != "start" }.dropFirst())
        try ChildProcess.exec(path, arguments: words)
    }
}
