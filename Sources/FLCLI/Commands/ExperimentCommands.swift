import Foundation
import FLCore
import FLRoles
import FLWire

/// `fx experiment`: submit experiments to a Director and follow them.
enum ExperimentCommands {
    static var command: Command {
        Command("experiment", abstract: "Submit experiments to a Director, follow them, fetch their models.",
                subcommands: [submitCommand, listCommand, statusCommand, watchCommand, plotCommand, modelCommand, cancelCommand])
    }

    static let submitCommand = Command(
        "submit", abstract: "Export a workspace and submit it to the Director's queue.",
        discussion: """
        The workspace goes up as the archive `fx workspace export` writes (plan and code; never data, keys or
        models). Sites that run an allow-list need its SHA-256, printed here, approved with `fx envoy approve`.
        Experiments start in the order they were submitted, several at once when the sites have room for
        them (each Envoy's `capacity`, the Director's `experiments.max_concurrent` and `aggregators.ports`).
        `--envoys a,b` offers it to those Envoys only (by default: every Envoy online when it starts); one
        submitted later for other sites may then start first, when it cannot delay this one.
        """,
        arguments: [WorkspaceCommands.workspace, newName, envoys] + DirectorConnection.options + [submitJSON]
    ) { args, context in
        let workspace = try WorkspaceCommands.workspace(args, context)
        let client = try DirectorConnection.client(args, context)
        let sites = (args[Self.envoys] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let info = try client.submit(workspace: workspace, name: try args.required(Self.newName), envoys: sites)
        if args[Self.submitJSON] {
            context.console.print(try DirectorConnection.jsonText(info))
        } else {
            context.console.print("submitted experiment '\(info.name)' (queued at position \(info.queuePosition), \(info.roundsToTrain) rounds)")
            context.console.print("archive SHA-256: \(info.archiveSHA256)")
            context.console.print("follow it with: fx experiment watch \(info.name)")
        }
        return 0
    }

    static let listCommand = Command(
        "list", abstract: "List every experiment: queued, running and finished.",
        arguments: DirectorConnection.options + [DirectorConnection.json]
    ) { args, context in
        let list = try DirectorConnection.client(args, context).experimentList()
        let experiments = list.experiments
        if !list.stateWarning.isEmpty { context.console.error("warning: the Director cannot save its state: \(list.stateWarning)") }
        if args[DirectorConnection.json] {
            context.console.print(try DirectorConnection.jsonText(experiments))
            return 0
        }
        if experiments.isEmpty {
            context.console.print("no experiments")
            return 0
        }
        var rows = [["NAME", "STATUS", "ROUNDS", "BEST", "SUBMITTED BY", "SUBMITTED"]]
        for x in experiments {
            let status = x.status == .queued ? "queued (#\(x.queuePosition))" : x.status.rawValue
            // Others' experiments come by name and state only.
            guard !x.submittedBy.isEmpty else {
                rows.append([x.name, status, "-", "-", "(another user)", "-"])
                continue
            }
            rows.append([x.name, status, "\(x.roundsCompleted)/\(x.roundsToTrain)", x.bestValue.map { String(format: "%.4f", $0) } ?? "-",
                         x.submittedBy, DirectorConnection.date(x.submittedAt)])
        }
        context.console.print(DirectorConnection.table(rows))
        return 0
    }

    static let statusCommand = Command(
        "status", abstract: "Show one experiment: status, rounds, metrics, what each site did.",
        arguments: [name] + DirectorConnection.options + [DirectorConnection.json]
    ) { args, context in
        let report = try DirectorConnection.client(args, context).statusReport(try args.required(Self.name))
        if !report.stateWarning.isEmpty { context.console.error("warning: the Director cannot save its state: \(report.stateWarning)") }
        context.console.print(args[DirectorConnection.json] ? try DirectorConnection.jsonText(report.experiment) : describe(report.experiment))
        return 0
    }

    static let watchCommand = Command(
        "watch", abstract: "Follow an experiment round by round until it ends.",
        discussion: "Prints a progress bar per round with the latest aggregated metrics. Exits 0 when the experiment succeeds, 1 otherwise.",
        arguments: [name] + DirectorConnection.options + [watchJSON]
    ) { args, context in
        let client = try DirectorConnection.client(args, context)
        let json = args[Self.watchJSON]
        var printer = WatchPrinter()
        let final = try client.watch(try args.required(Self.name)) { info in
            if json {
                context.console.print(try JSONCoding.line(info))
            } else {
                for line in printer.lines(for: info) { context.console.print(line) }
            }
        }
        return final.status == .succeeded ? 0 : 1
    }

    static let modelCommand = Command(
        "model", abstract: "Download an experiment's best or last model (safetensors).",
        arguments: [name, best, last, modelOutput] + DirectorConnection.options
    ) { args, context in
        guard !(args[Self.best] && args[Self.last]) else {
            throw args.error("\(Self.best.spec.name) and \(Self.last.spec.name) exclude each other")
        }
        let name = try args.required(Self.name)
        let which: ModelChoice = args[Self.last] ? .last : .best
        let output = context.absolute(args[Self.modelOutput] ?? "\(name)-\(which).safetensors")
        let size = try DirectorConnection.client(args, context).model(name, which, to: output)
        context.console.print("wrote the \(which) model of '\(name)' to \(output) (\(size) bytes)")
        return 0
    }

    static let cancelCommand = Command(
        "cancel", abstract: "Cancel a queued or running experiment.",
        arguments: [name] + DirectorConnection.options
    ) { args, context in
        let info = try DirectorConnection.client(args, context).cancel(try args.required(Self.name))
        if info.status == .cancelled {
            context.console.print("experiment '\(info.name)' cancelled")
        } else {
            context.console.print("experiment '\(info.name)' is being cancelled (it was \(info.status.rawValue))")
        }
        return 0
    }

    static let name = Positional("name", help: "The experiment.")
    static let newName = Option("--name", value: "NAME", help: "The experiment's name (letters, digits, . _ -).", required: true)
    static let envoys = Option("--envoys", value: "NAMES", help: "The Envoys to offer it to, comma-separated (default: every one online).")
    static let submitJSON = Flag("--json", help: "Print the queued experiment as JSON.")
    static let watchJSON = Flag("--json", help: "Print each change of the experiment as one line of JSON.")
    static let best = Flag("--best", help: "The model with the best validation score (the default).")
    static let last = Flag("--last", help: "The model after the last round.")
    static let modelOutput = Option("--output", value: "FILE", help: "Where to write it (default: <name>-<best|last>.safetensors).")

    /// The human-readable account of one experiment.
    static func describe(_ x: ExperimentInfo) -> String {
        var lines = ["experiment:  \(x.name)"]
        var status = x.status.rawValue
        if x.status == .queued { status += " (position \(x.queuePosition))" }
        if !x.reason.isEmpty { status += ": \(x.reason)" }
        lines.append("status:      \(status)")
        lines.append("submitted:   \(DirectorConnection.date(x.submittedAt)) by \(x.submittedBy)")
        lines.append("archive:     SHA-256 \(x.archiveSHA256) (\(x.archiveSize) bytes)")
        if let started = x.startedAt { lines.append("started:     \(DirectorConnection.date(started))" + (x.launches > 1 ? " (aggregator started \(x.launches) times)" : "")) }
        if let finished = x.finishedAt { lines.append("finished:    \(DirectorConnection.date(finished))") }
        lines.append("rounds:      \(x.roundsCompleted)/\(x.roundsToTrain)" + (x.currentRound >= 0 ? ", training round \(x.currentRound + 1)" : ""))
        if let best = x.bestValue { lines.append("best:        \(x.bestMetric) = \(String(format: "%.4f", best))") }
        if !x.lastMetrics.isEmpty { lines.append("metrics:     " + WatchPrinter.metrics(x.lastMetrics)) }
        if let privacy = privacySpent(x) { lines.append("privacy:     " + privacy) }
        if !x.sites.isEmpty {
            lines.append("sites:")
            let rows = x.sites.map { s in ["  " + s.envoy, s.state.rawValue, [s.exitStatus, s.reason].filter { !$0.isEmpty }.joined(separator: ": ")] }
            lines.append(DirectorConnection.table(rows))
        }
        if let table = siteFigures(x) { lines.append(table) }
        return lines.joined(separator: "\n")
    }

    /// The (ε, δ) differential privacy has spent, from the last training round that reported it.
    static func privacySpent(_ x: ExperimentInfo) -> String? {
        guard let r = x.rounds.last(where: { $0.metrics[PrivacyMetrics.epsilon] != nil }), let epsilon = r.metrics[PrivacyMetrics.epsilon] else { return nil }
        let delta = r.metrics[PrivacyMetrics.delta].map { " at δ = \($0)" } ?? ""
        return "ε = \(String(format: "%.4f", epsilon))\(delta) after round \(r.round + 1)"
    }

    /// Each site's own score for the final and the best model beside the weighted total, so a
    /// federation's unevenness shows: the best metric's figures from the final validation and the
    /// best model's validation (the final one's, when the final model is the best).
    static func siteFigures(_ x: ExperimentInfo) -> String? {
        guard let final = x.rounds.last(where: { $0.finalValidation }), !final.sites.isEmpty else { return nil }
        let best = x.rounds.last { $0.bestValidation } ?? (final.best ? final : nil)
        let metric = x.bestMetric
        func figure(_ value: Double?) -> String { value.map { String(format: "%.4f", $0) } ?? "-" }
        var rows = [["  SITE", "FINAL MODEL", "BEST MODEL"]]
        for site in final.sites.keys.sorted() {
            rows.append(["  " + site, figure(final.sites[site]?[metric]), figure(best?.sites[site]?[metric])])
        }
        rows.append(["  weighted total", figure(final.metrics[metric]), figure(best?.metrics[metric])])
        return "per site (\(metric), on each site's validation rows):\n" + DirectorConnection.table(rows)
    }
}

/// Turns successive states of an experiment into the lines `watch` prints: one per change of
/// status or site, and a progress bar per closed round.
struct WatchPrinter {
    private var status: ExperimentStatus?
    private var roundsShown = 0
    private var sites: [String: SiteInfo.State] = [:]

    mutating func lines(for x: ExperimentInfo) -> [String] {
        var out: [String] = []
        if x.status != status {
            status = x.status
            switch x.status {
            case .queued: out.append("\(x.name): queued at position \(x.queuePosition)")
            case .preparing: out.append("\(x.name): offered to \(x.sites.map(\.envoy).joined(separator: ", "))")
            case .running: out.append("\(x.name): running on \(x.collaborators.joined(separator: ", ")) (\(x.roundsToTrain) rounds)")
            case .succeeded, .failed, .cancelled: break
            }
        }
        for s in x.sites where sites[s.envoy] != s.state {
            sites[s.envoy] = s.state
            if s.state == .refused || s.state == .failed || s.state == .absent {
                out.append("  \(s.envoy): \(s.state.rawValue)\(s.reason.isEmpty ? "" : " (\(s.reason))")")
            }
        }
        for round in x.rounds.dropFirst(roundsShown) {
            out.append(WatchPrinter.bar(round, of: x.roundsToTrain, bestMetric: x.bestMetric))
        }
        roundsShown = max(roundsShown, x.rounds.count)
        if x.status.isFinal {
            var end = "\(x.name) \(x.status.rawValue)"
            if !x.reason.isEmpty { end += ": \(x.reason)" }
            if let best = x.bestValue { end += "; best \(x.bestMetric) = \(String(format: "%.4f", best))" }
            out.append(end)
        }
        return out
    }

    static func bar(_ r: RoundInfo, of total: Int, bestMetric: String, width: Int = 20) -> String {
        let done = r.finalValidation || r.bestValidation ? total : min(total, r.round + 1)
        let filled = total > 0 ? done * width / total : width
        let bar = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
        let label = r.bestValidation ? "best model" : r.finalValidation ? "final validation" : "round \(r.round + 1)/\(total)"
        let missing = r.missing.isEmpty ? "" : " (missing \(r.missing.joined(separator: ", ")))"
        return "\(bar) \(label.padding(toLength: 16, withPad: " ", startingAt: 0)) \(metrics(r.metrics))\(r.best ? " [best]" : "")\(missing)"
    }

    static func metrics(_ m: [String: Double]) -> String {
        m.keys.sorted().map { "\($0)=\(MetricFigure.text(m[$0]!))" }.joined(separator: " ")
    }
}
