import FLCore
import FLRoles
import FLWire

/// `fx aggregator` and `fx collaborator`: start the role executables. Also the options both roles
/// take for their certificates.
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

    static let certificateDirectory = Option("--cert-dir", value: "DIR", help: "Folder with ca.crt, NAME.crt and NAME.key (default: <workspace>/cert).")
    static let revocationList = Option("--crl", value: "FILE", help: "The CA's certificate revocation list, re-read whenever it changes (default: none).")

    /// The role's TLS identity `name`, from `--cert-dir` (or the workspace's) and `--crl`.
    static func tls(_ args: ParsedArguments, _ context: CommandContext, workspace: Workspace, name: String) -> TLSConfiguration {
        TLSConfiguration(certificateDirectory: context.absolute(args[certificateDirectory] ?? workspace.certificateDirectory), name: name,
                         revocationListPath: args[revocationList].map(context.absolute))
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
