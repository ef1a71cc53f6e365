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
        "start", abstract: "Start the Director: accept Envoys and run submitted experiments one at a time.",
        discussion: """
        Reads the configuration (listen address, the federation's sample_shape and target_shape, the Envoys'
        heartbeat period, the state folder, certificates; see docs/federation.md). Envoys connect with
        `fx envoy start`; data scientists use `fx experiment submit|list|status|watch|model|cancel` and
        `fx envoy list`. Runs until SIGINT or SIGTERM; a running experiment is resumed from its last checkpoint
        at the next start.
        """,
        arguments: [
            .option("--config", value: "FILE", help: "The Director's configuration (YAML).", required: true),
            .option("--port", value: "PORT", help: "Listen on this port instead of listen.port (0 picks a free one)."),
            .flag("--events", help: "Write one JSON object per event to standard output."),
            .option("--log-level", value: "LEVEL", help: "debug, info, warning or error (default: info)."),
        ]
    ) { args, context in
        var settings = try DirectorSettings.load(path: context.absolute(try args.required("--config")))
        if let port = try args.int("--port", in: 0...65535) { settings.port = port }
        let logger = try ProcessLogging.logger(label: "director", file: "\(settings.stateDirectory)/director.log", args: args)
        let console = context.console
        let events = args.flag("--events")
        let director = try Director(settings: settings, logger: logger) { event in
            if events { console.print(event.jsonLine) }
        }
        let stop = Termination.onSignal { director.stop() }
        defer { stop.cancel() }
        let port = try director.start()
        if !events { console.print("director listening on \(settings.host):\(port); state in \(settings.stateDirectory)") }
        director.waitUntilStopped()
        return 0
    }
}

/// Runs an action when the process gets SIGINT or SIGTERM (instead of dying at once), so a role can
/// stop its children and flush its state.
final class Termination {
    private let sources: [any DispatchSourceSignal]

    private init(sources: [any DispatchSourceSignal]) { self.sources = sources }

    static func onSignal(_ action: @escaping @Sendable () -> Void) -> Termination {
        let sources = [SIGINT, SIGTERM].map { sig -> any DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler(handler: action)
            source.resume()
            return source
        }
        return Termination(sources: sources)
    }

    func cancel() {
        for source in sources { source.cancel() }
    }
}
