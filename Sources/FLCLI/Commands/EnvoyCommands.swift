import Foundation
import FLCore
import FLRoles
import FLWire

/// `fx envoy`: run a data site's Envoy, approve archives for it, list the federation's Envoys.
enum EnvoyCommands {
    static var command: Command {
        Command("envoy", abstract: "Run a site's Envoy, approve experiments for it, list Envoys.",
                subcommands: [startCommand, approveCommand, listCommand])
    }

    static let startCommand = Command(
        "start", abstract: "Start a site's Envoy: register with the Director and run the experiments the site allows.",
        discussion: """
        The configuration names the site's shard (inside its data folder), its certificate folder and its policy
        (`any`, or an allow-list of archive SHA-256 maintained with `fx envoy approve`). The Envoy only dials out;
        it reconnects forever when the Director is gone. Every experiment it runs or refuses is written to its
        audit log. Runs until SIGINT or SIGTERM. SIGHUP re-reads the configuration: the policy and the limits on
        models and statistics change at once, without dropping the connection or a running collaborator. Under
        systemd (Type=notify) it reports READY=1 once registered, and WATCHDOG=1 when WatchdogSec is set.
        """,
        arguments: [
            .option("--name", value: "NAME", help: "The site's name: its certificate name, and its collaborators'.", required: true),
            .option("--config", value: "FILE", help: "The Envoy's configuration (YAML).", required: true),
            .option("--director", value: "HOST:PORT", help: "The Director (default: director.address in the configuration)."),
            .option("--log-level", value: "LEVEL", help: "debug, info, warning or error (default: info)."),
        ]
    ) { args, context in
        let name = try args.required("--name")
        let director = try args.endpoint("--director").map { Endpoint(host: $0.host, port: $0.port) }
        let configuration = context.absolute(try args.required("--config"))
        let settings = try EnvoySettings.load(path: configuration, name: name, director: director)
        let notifier = try ServiceNotifier(environment: context.environment)
        let logger = try ProcessLogging.logger(label: name, file: "\(settings.workDirectory)/envoy.log", args: args)
        let envoy = try Envoy(settings: settings, logger: logger) { event in
            switch event {
            case let .registered(director): notifier?.ready(status: "registered with the Director at \(director)")
            case let .waiting(reason): notifier?.status(reason)
            }
        }
        let stop = SignalHandler.on([SIGINT, SIGTERM]) {
            notifier?.stopping()
            envoy.stop()
        }
        let reload = SignalHandler.onReload(configuration, notifier: notifier, logger: logger, prefix: { "" }) {
            envoy.reload(try EnvoySettings.load(path: configuration, name: name, director: director))
        }
        defer {
            stop.cancel()
            reload.cancel()
        }
        notifier?.startWatchdog { envoy.isResponsive }
        logger.info("\(BuildInfo.summary): site '\(name)', policy \(settings.policy), Director \(settings.director)")
        context.console.print("envoy '\(name)': \(envoy.settings.shard.sampleCount) samples of shape \(ShardDescriptor.text(envoy.settings.shard.sampleShape)), policy \(settings.policy), Director \(settings.director)")
        try envoy.run()
        return 0
    }

    static let approveCommand = Command(
        "approve", abstract: "Allow an experiment archive (by its SHA-256) to run at this site.",
        discussion: """
        Adds the digest to the allow-list named by the configuration's policy (written atomically; the running
        Envoy reads it for every decision). The digest of a workspace is printed by `fx workspace export`, and
        the Director shows it in `fx experiment status`.
        """,
        arguments: [
            .positional("sha256", help: "The archive's SHA-256 (64 hex digits)."),
            .option("--config", value: "FILE", help: "The Envoy's configuration (default: envoy.yaml)."),
            .option("--comment", value: "TEXT", help: "A note kept beside the digest (what it is, who approved it)."),
        ]
    ) { args, context in
        let policy = try EnvoySettings.policy(configuration: context.absolute(args.option("--config") ?? "envoy.yaml"))
        guard case let .allowList(path) = policy else {
            throw CommandLineError(commandPath: args.commandPath, message: "the site's policy is '\(policy)', which keeps no allow-list; set policy.mode: allowlist first")
        }
        let digest = try args.required("sha256")
        if try ArchiveAllowList.approve(digest, in: path, comment: args.option("--comment") ?? "") {
            context.console.print("approved \(digest.lowercased()) in \(path)")
        } else {
            context.console.print("\(digest.lowercased()) was already approved in \(path)")
        }
        return 0
    }

    static let listCommand = Command(
        "list", abstract: "List the Envoys the Director knows: shapes, online or offline, last heartbeat, current experiment.",
        arguments: DirectorConnection.options + [.flag("--json", help: "Print JSON.")]
    ) { args, context in
        let client = try DirectorConnection.client(args, context)
        let list = try client.envoys()
        if args.flag("--json") {
            context.console.print(try DirectorConnection.json(EnvoyTable(heartbeatPeriod: list.heartbeatPeriod, envoys: list.envoys)))
            return 0
        }
        if list.envoys.isEmpty {
            context.console.print("no Envoys have registered")
            return 0
        }
        var rows = [["NAME", "STATUS", "LAST HEARTBEAT", "SAMPLES", "SAMPLE SHAPE", "TARGET SHAPE", "EXPERIMENT", "CPU", "MEMORY"]]
        for e in list.envoys {
            rows.append([e.name, e.online ? "online" : "offline", e.lastHeartbeatAge.map { String(format: "%.1f s ago", $0) } ?? "not since start",
                         "\(e.shard.sampleCount)", ShardDescriptor.text(e.shard.sampleShape), ShardDescriptor.text(e.shard.targetShape),
                         e.currentExperiment.isEmpty ? "-" : e.currentExperiment + (e.collaboratorRunning ? " (running)" : ""),
                         String(format: "%.0f%%", e.cpuPercent), DirectorConnection.bytes(e.residentBytes)])
        }
        context.console.print(DirectorConnection.table(rows))
        return 0
    }

    private struct EnvoyTable: Encodable {
        var heartbeatPeriod: Double
        var envoys: [EnvoyInfo]
    }
}

/// The options and helpers shared by the commands that talk to a Director as a user.
enum DirectorConnection {
    static let options: [ArgumentSpec] = [
        .option("--director", value: "HOST:PORT", help: "The Director (default: $SWIFTFL_DIRECTOR)."),
        .option("--cert-dir", value: "DIR", help: "Folder with ca.crt, NAME.crt and NAME.key (default: $SWIFTFL_CERT_DIR, or ./cert)."),
        .option("--identity", value: "NAME", help: "Your certificate name (default: $SWIFTFL_IDENTITY, or $USER)."),
        .option("--director-name", value: "NAME", help: "The Director's certificate name (default: director)."),
    ]

    static func client(_ args: ParsedArguments, _ context: CommandContext) throws -> DirectorClient {
        let env = context.environment
        guard let text = args.option("--director") ?? env["SWIFTFL_DIRECTOR"] else {
            throw CommandLineError(commandPath: args.commandPath, message: "missing --director HOST:PORT (or set SWIFTFL_DIRECTOR)")
        }
        guard let endpoint = Endpoint(text) else {
            throw CommandLineError(commandPath: args.commandPath, message: "--director expects HOST:PORT, got '\(text)'")
        }
        guard let identity = args.option("--identity") ?? env["SWIFTFL_IDENTITY"] ?? env["USER"] else {
            throw CommandLineError(commandPath: args.commandPath, message: "missing --identity NAME (or set SWIFTFL_IDENTITY)")
        }
        let directory = context.absolute(args.option("--cert-dir") ?? env["SWIFTFL_CERT_DIR"] ?? "cert")
        return try DirectorClient(director: endpoint, directorName: args.option("--director-name") ?? "director",
                                  tls: TLSConfiguration(certificateDirectory: directory, name: identity))
    }

    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try JSONCoding.encoder(.pretty).encode(value), as: UTF8.self)
    }

    /// Rows as left-aligned columns.
    static func table(_ rows: [[String]]) -> String {
        let widths = (0..<(rows.map(\.count).max() ?? 0)).map { c in rows.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { c, cell in c == row.count - 1 ? cell : cell.padding(toLength: widths[c] + 2, withPad: " ", startingAt: 0) }.joined()
        }.joined(separator: "\n")
    }

    static func bytes(_ n: Int) -> String {
        if n == 0 { return "-" }
        if n >= 1 << 30 { return String(format: "%.1f GiB", Double(n) / Double(1 << 30)) }
        return String(format: "%.0f MiB", Double(n) / Double(1 << 20))
    }

    static func date(_ seconds: Double?) -> String {
        guard let seconds else { return "-" }
        return ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: seconds))
    }
}
