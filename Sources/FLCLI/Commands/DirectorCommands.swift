import Foundation
import FLCore
import FLRoles
import FLWire

/// `fx director`: run the centre of a long-lived federation.
enum DirectorCommands {
    static var command: Command {
        Command("director", abstract: "Run the Director of a long-lived federation.", subcommands: [startCommand])
    }

    static let startCommand = Command(
        "start", abstract: "Start the Director: accept Envoys and run submitted experiments, several at once where the sites have room.",
        discussion: """
        Reads the configuration (listen address, the federation's sample_shape and target_shape, the Envoys'
        heartbeat period, the state folder, certificates; see docs/federation.md). Envoys connect with
        `fx envoy start`; data scientists use `fx experiment submit|list|status|watch|model|cancel` and
        `fx envoy list`. Runs until SIGINT or SIGTERM; a running experiment is resumed from its last checkpoint
        at the next start. SIGHUP re-reads the configuration: the allow-lists, envoys.minimum, startup_grace and
        decision_timeout change at once, without dropping connections or experiments. Under systemd (Type=notify)
        it reports READY=1 once listening, and WATCHDOG=1 when WatchdogSec is set.
        """,
        arguments: [configuration, port, events, ProcessLogging.level]
    ) { args, context in
        let configuration = context.absolute(try args.required(Self.configuration))
        let portOverride = args[Self.port]
        var loaded = try DirectorSettings.load(path: configuration)
        if let portOverride { loaded.port = portOverride }
        let settings = loaded
        let notifier = try ServiceNotifier(environment: context.environment)
        let logger = try ProcessLogging.logger(label: "director", file: "\(settings.stateDirectory)/director.log", args: args)
        let console = context.console
        let events = args[Self.events]
        let director = try Director(settings: settings, logger: logger) { event in
            if events { console.print(event.jsonLine) }
        }
        let stop = SignalHandler.on([SIGINT, SIGTERM]) {
            notifier?.stopping()
            director.stop()
        }
        let reload = SignalHandler.onReload(configuration, notifier: notifier, logger: logger,
                                            prefix: { "listening on \(settings.host):\(director.port ?? settings.port); " }) {
            var fresh = try DirectorSettings.load(path: configuration)
            if let portOverride { fresh.port = portOverride }
            return director.reload(fresh)
        }
        defer {
            stop.cancel()
            reload.cancel()
        }
        let port = try director.start()
        logger.info("\(BuildInfo.summary): listening on \(settings.host):\(port); state in \(settings.stateDirectory)")
        notifier?.ready(status: "listening on \(settings.host):\(port)")
        notifier?.startWatchdog { director.isResponsive }
        if !events { console.print("director listening on \(settings.host):\(port); state in \(settings.stateDirectory)") }
        if !events, let listen = settings.dashboardListen, let dashboardPort = director.dashboardPort {
            console.print("dashboard on \(settings.dashboardTLS ? "https" : "http")://\(Endpoint(host: listen.host, port: dashboardPort))/")
        }
        director.waitUntilStopped()
        return 0
    }

    static let configuration = Option("--config", value: "FILE", help: "The Director's configuration (YAML).", required: true)
    static let port = Option("--port", value: "PORT", help: "Listen on this port instead of listen.port (0 picks a free one).", as: .integer(in: 0...65535))
    static let events = Flag("--events", help: "Write one JSON object per event to standard output.")
}
