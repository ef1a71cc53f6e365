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
        arguments: [name, configuration, director, ProcessLogging.level]
    ) { args, context in
        let name = try args.required(Self.name)
        let director = args[Self.director]
        let configuration = context.absolute(try args.required(Self.configuration))
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
        arguments: [digest, approvalConfiguration, comment]
    ) { args, context in
        let policy = try EnvoySettings.policy(configuration: context.absolute(try args.required(Self.approvalConfiguration)))
        guard case let .allowList(path) = policy else {
            throw args.error("the site's policy is '\(policy)', which keeps no allow-list; set policy.mode: allowlist first")
        }
        let digest = try args.required(Self.digest)
        if try ArchiveAllowList.approve(digest, in: path, comment: try args.required(Self.comment)) {
            context.console.print("approved \(digest.lowercased()) in \(path)")
        } else {
            context.console.print("\(digest.lowercased()) was already approved in \(path)")
        }
        return 0
    }

    static let listCommand = Command(
        "list", abstract: "List the Envoys the Director knows: shapes, online or offline, last heartbeat, capacity, current experiments.",
        discussion: """
        CAPACITY is how many collaborators (one per experiment) the site runs at once, as it registered; RUNNING
        how many run there now, as its last heartbeat said ("-": not known since the Director started).
        """,
        arguments: DirectorConnection.options + [DirectorConnection.json]
    ) { args, context in
        let client = try DirectorConnection.client(args, context)
        let list = try client.envoys()
        if args[DirectorConnection.json] {
            context.console.print(try DirectorConnection.jsonText(EnvoyTable(list)))
            return 0
        }
        if list.envoys.isEmpty {
            context.console.print("no Envoys have registered")
            return 0
        }
        context.console.print(DirectorConnection.table(rows(list)))
        return 0
    }

    /// The table `fx envoy list` prints: a header, then one row per Envoy.
    static func rows(_ list: EnvoyListReply) -> [[String]] {
        var rows = [["NAME", "STATUS", "LAST HEARTBEAT", "SAMPLES", "SAMPLE SHAPE", "TARGET SHAPE", "CAPACITY", "RUNNING", "EXPERIMENT", "CPU", "MEMORY"]]
        for (i, e) in list.envoys.enumerated() {
            let slots = list.slots(of: i)
            rows.append([e.name, e.online ? "online" : "offline", e.lastHeartbeatAge.map { String(format: "%.1f s ago", $0) } ?? "not since start",
                         "\(e.shard.sampleCount)", ShardDescriptor.text(e.shard.sampleShape), ShardDescriptor.text(e.shard.targetShape),
                         slots?.capacity.map(String.init) ?? "-", slots?.running.map { "\($0.count)" } ?? "-",
                         e.currentExperiment.isEmpty ? "-" : e.currentExperiment + (e.collaboratorRunning ? " (running)" : ""),
                         String(format: "%.0f%%", e.cpuPercent), DirectorConnection.bytes(e.residentBytes)])
        }
        return rows
    }

    static let name = Option("--name", value: "NAME", help: "The site's name: its certificate name, and its collaborators'.", required: true)
    static let configuration = Option("--config", value: "FILE", help: "The Envoy's configuration (YAML).", required: true)
    static let director = Option("--director", value: "HOST:PORT", help: "The Director (default: director.address in the configuration).", as: .endpoint)
    static let digest = Positional("sha256", help: "The archive's SHA-256 (64 hex digits).")
    static let approvalConfiguration = Option("--config", value: "FILE", help: "The Envoy's configuration (default: envoy.yaml).", default: "envoy.yaml")
    static let comment = Option("--comment", value: "TEXT", help: "A note kept beside the digest (what it is, who approved it).", default: "")

    /// What `fx envoy list --json` prints.
    struct EnvoyTable: Encodable {
        var heartbeatPeriod: Double
        var envoys: [EnvoyRow]

        init(_ list: EnvoyListReply) {
            heartbeatPeriod = list.heartbeatPeriod
            envoys = list.envoys.enumerated().map { EnvoyRow(info: $1, slots: list.slots(of: $0)) }
        }
    }

    /// An Envoy in `fx envoy list --json`: its `EnvoyInfo` fields, then `capacity` and `running`
    /// (the experiments whose collaborators run there) when the Director knows them.
    struct EnvoyRow: Encodable {
        var info: EnvoyInfo
        var slots: EnvoySlots?

        private enum CodingKeys: String, CodingKey { case capacity, running }

        func encode(to encoder: any Encoder) throws {
            try info.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encodeIfPresent(slots?.capacity, forKey: .capacity)
            try c.encodeIfPresent(slots?.running, forKey: .running)
        }
    }
}
