/// The `fx` command tree.
public enum FX {
    public static var command: Command {
        Command("fx", abstract: "SwiftFL: train one model across data that never leaves its sites.",
                discussion: "Start with `fx workspace create --prefix DIR --template breast_cancer`, then `fx plan initialize`.",
                subcommands: [
                    WorkspaceCommands.command,
                    PlanCommands.command,
                    ModelCommands.command,
                    PKICommands.command,
                    RoleCommands.aggregator,
                    RoleCommands.collaborator,
                    DirectorCommands.command,
                    EnvoyCommands.command,
                    ExperimentCommands.command,
                    AnalyticsCommands.command,
                ])
            .versioned(BuildInfo.summary)
    }

    /// The command tree of the executable invoked as `name` (its file name): an installation ships
    /// one binary, and `fx-aggregator` and `fx-collaborator` are hard links to it.
    public static func command(invokedAs name: String) -> Command {
        switch name {
        case "fx-aggregator": AggregatorProcess.command
        case "fx-collaborator": CollaboratorProcess.command
        default: command
        }
    }
}
