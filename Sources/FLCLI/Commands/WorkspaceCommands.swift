import Foundation
import FLCore
import FLRoles
import FLWire

/// `fx workspace`: make a workspace from a template, and move it between machines as an archive.
enum WorkspaceCommands {
    static var command: Command {
        Command("workspace", abstract: "Create, export and import workspaces.",
                subcommands: [createCommand, exportCommand, importCommand])
    }

    static let createCommand = Command(
        "create", abstract: "Create a workspace from a template.",
        discussion: "Templates live in the installation's workspaces/ folder (SWIFTFL_HOME, or found beside the fx executable).",
        arguments: [prefix, template]
    ) { args, context in
        let installation = try Installation.locate(environment: context.environment)
        let template = try args.required(Self.template)
        let workspace = try Workspace.create(at: context.absolute(try args.required(Self.prefix)), template: template, installation: installation)
        context.console.print("created workspace \(workspace.root) from template '\(template)'")
        context.console.print("next: fx plan initialize --workspace \(workspace.root)")
        return 0
    }

    static let exportCommand = Command(
        "export", abstract: "Write the workspace's plan and code (no data, keys or models) as a tar archive.",
        arguments: [workspace, archiveOutput]
    ) { args, context in
        let workspace = try Self.workspace(args, context)
        let name = (workspace.root as NSString).lastPathComponent
        let output = context.absolute(args[Self.archiveOutput] ?? "\(name).tar")
        let summary = try workspace.export(to: output)
        context.console.print("exported \(summary.entryCount) entries to \(output) (\(summary.byteCount) bytes)")
        context.console.print("SHA-256: \(summary.sha256)")
        return 0
    }

    static let importCommand = Command(
        "import", abstract: "Unpack an exported workspace.",
        discussion: "Entries with absolute paths, '..' components, or links pointing outside the workspace are refused.",
        arguments: [archive, prefix]
    ) { args, context in
        let workspace = try Workspace.importArchive(context.absolute(try args.required(Self.archive)), into: context.absolute(try args.required(Self.prefix)))
        context.console.print("imported workspace into \(workspace.root)")
        return 0
    }

    static let prefix = Option("--prefix", value: "DIR", help: "The new workspace's folder (must not exist, or be empty).", required: true)
    static let template = Option("--template", value: "NAME", help: "Template name, e.g. breast_cancer or digits.", required: true)
    static let archiveOutput = Option("--output", value: "FILE", help: "The archive (default: <workspace name>.tar in the current folder).")
    static let archive = Option("--archive", value: "FILE", help: "The archive to unpack.", required: true)

    /// The workspace a command works on; every command that takes one declares this option.
    static let workspace = Option("--workspace", value: "DIR", help: "The workspace folder (default: current folder).", default: ".")

    /// The workspace `--workspace` names, made absolute.
    static func workspace(_ args: ParsedArguments, _ context: CommandContext) throws -> Workspace {
        Workspace(root: context.absolute(try args.required(Self.workspace)))
    }
}

/// `fx plan`: read and check plans.
enum PlanCommands {
    static var command: Command {
        Command("plan", abstract: "Print and initialize plans.", subcommands: [printCommand, initializeCommand])
    }

    static let printCommand = Command(
        "print", abstract: "Print a plan with its defaults resolved.",
        discussion: "The plan is checked as every reader checks it: a key its defaults do not hold is refused, naming the nearest known one.",
        arguments: [plan, json]
    ) { args, context in
        let path = context.absolute(try args.required(Self.plan))
        var roots = [(path as NSString).deletingLastPathComponent]
        if let installation = try? Installation.locate(environment: context.environment) { roots.append(installation.plansDirectory) }
        let plan = try Plan.load(path: path, searchRoots: roots, schema: ExperimentPlan.schema)
        context.console.print(args[Self.json] ? try plan.root.canonicalJSON(pretty: true) : plan.root.yamlText())
        return 0
    }

    static let initializeCommand = Command(
        "initialize", abstract: "Check the plan against the workspace and write the initial model.",
        discussion: """
        Checks that every task a group names exists, that every collaborator has its local data entry, and that
        local data (when present here) has the features and classes the model expects; then writes the initial
        model (safetensors) to aggregator.settings.init_state_path.
        """,
        arguments: [WorkspaceCommands.workspace]
    ) { args, context in
        let workspace = try WorkspaceCommands.workspace(args, context)
        let plan = try ExperimentPlan.load(workspace: workspace, installation: try? Installation.locate(environment: context.environment))
        for line in try plan.checkData() { context.console.print(line) }
        try workspace.createOutputDirectories()
        // Your own machine: the one place a plan's `initialize: command` may run.
        let model = try plan.initialModel(runningCommands: true)
        try Safetensors.write(model, to: plan.initialModelPath, metadata: plan.modelMetadata.merging(["created_by": "fx plan initialize"]) { _, own in own })
        context.console.print("plan: \(plan.roundsToTrain) rounds, \(plan.collaborators.count) collaborators (\(plan.collaborators.joined(separator: ", ")))")
        context.console.print("model: \(model.layout.count) parameters in \(model.layout.tensors.count) tensors (\(model.layout))")
        context.console.print("wrote the initial model to \(plan.initialModelPath)")
        if case let .external(e) = plan.runner, e.initialization == .command {
            context.console.print("note: a Director never runs the workspace's code; to submit this plan, copy \(plan.initialModelPath) to "
                + "\(e.initialModelFile) and set task_runner.settings.initialize: file (the file travels in the archive)")
        }
        return 0
    }

    static let plan = Option("--plan", value: "FILE", help: "The plan (default: plan/plan.yaml of the current folder).", default: "plan/plan.yaml")
    static let json = Flag("--json", help: "Print canonical JSON (sorted keys) instead of YAML.")
}
