import Foundation
import FLCore
import FLRoles
import FLWire

/// The collaborator's command line, shared by `fx collaborator start` and `fx-collaborator`.
public enum CollaboratorProcess {
    static let name = Option("--name", value: "NAME", help: "This collaborator's name (its certificate name, listed in plan/cols.yaml).", required: true)
    static let experiment = Option("--experiment", value: "NAME", help: "The experiment's name, as the aggregator has it.")
    static let aggregator = Option("--aggregator", value: "HOST:PORT", help: "Where the aggregator listens (default: network.settings agg_addr:agg_port).",
                                   as: .endpoint)
    static let aggregatorName = Option(
        "--aggregator-name", value: "NAME", help: "The name the aggregator's certificate must carry (default: network.settings.agg_name).")
    static let data = Option("--data", value: "FILE", help: "This site's data file, used whole (default: its entry in plan/data.yaml).")
    static let participants = Option("--participants", value: "FILE", help: "The experiment's collaborators, from the Director, instead of plan/cols.yaml.")
    static let minimumStatisticsRows = Option(
        "--min-statistics-rows", value: "N", help: "Fewest training rows this site sends feature statistics about (default: 10).",
        as: .integer(in: 1...Int.max))
    static let stateDirectory = Option(
        "--state-dir", value: "DIR", help: "Where the site keeps what it carries between rounds (SCAFFOLD's control variate; default: the workspace's save/).")

    static let arguments: [any CommandArgument] = [
        name, WorkspaceCommands.workspace, experiment, aggregator, aggregatorName, RoleCommands.certificateDirectory, RoleCommands.revocationList,
        data, participants, minimumStatisticsRows, stateDirectory, ProcessLogging.level,
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
        let workspace = try WorkspaceCommands.workspace(args, context)
        let name = try args.required(Self.name)
        let logger = try ProcessLogging.logger(label: name, file: "\(workspace.logsDirectory)/\(name).log", args: args)
        let participants = try args[Self.participants].map { try ParticipantList.read(from: context.absolute($0)) }
        let plan = try ExperimentPlan.load(workspace: workspace, installation: try? Installation.locate(environment: context.environment),
                                           participants: participants)
        let tls = RoleCommands.tls(args, context, workspace: workspace, name: name)
        var settings = plan.collaboratorSettings(name: name, experiment: args[Self.experiment] ?? plan.experimentName,
                                                 aggregator: args[Self.aggregator], tls: tls)
        if let aggregatorName = args[Self.aggregatorName] { settings.aggregatorName = aggregatorName }
        if let minimum = args[Self.minimumStatisticsRows] { settings.minimumStatisticsRows = minimum }
        let runner = try plan.makeRunner(for: name, dataPath: args[Self.data].map(context.absolute),
                                         stateDirectory: args[Self.stateDirectory].map(context.absolute))
        let outcome = try Collaborator(settings: settings, runner: runner, logger: logger).run()
        return outcome.succeeded ? 0 : 1
    }
}
