import Foundation
import FLCore
import FLRoles
import FLWire

/// `fx analytics`: federated statistics over the sites' shards, before any training.
enum AnalyticsCommands {
    static var command: Command {
        Command("analytics", abstract: "Ask every online site for statistics of its data (count, mean, std, histograms, quantiles).",
                subcommands: [submitCommand, resultCommand])
    }

    static let submitCommand = Command(
        "submit", abstract: "Submit a query to the Director, which asks every online Envoy and combines the answers.",
        discussion: """
        The query comes from --query (YAML text, e.g. '{columns: [mean radius], by: label}'), --file, or a
        workspace's plan/analytics.yaml (--workspace). Its format:
          columns: [mean radius, mean texture]    # or: all
          statistics: [count, mean, std, histogram, quantiles]
          by: label                               # optional: one row per label value
          histogram: {min: 0, max: 30, bins: 10}  # or {edges: [0, 10, 20, 30]}
          quantiles: [0.25, 0.5, 0.75]
          timeout: 10                             # seconds the Director waits for the sites
        Each site withholds cells (and histogram bins) with fewer rows than its analytics.min_count.
        Prints the query's id; with --wait, waits for the result and prints it.
        """,
        arguments: [query, file, workspace, wait] + DirectorConnection.options + [DirectorConnection.json]
    ) { args, context in
        let parsed = try readQuery(args, context)
        let client = try DirectorConnection.client(args, context)
        var result = try client.submitAnalytics(parsed)
        if args[Self.wait] {
            result = try client.completedAnalytics(result.id, deadline: .after(seconds: parsed.deadlineSeconds + 30))
        }
        if args[DirectorConnection.json] {
            context.console.print(try DirectorConnection.jsonText(result))
        } else if args[Self.wait] {
            context.console.print(AnalyticsTable.describe(result))
        } else {
            context.console.print("submitted analytics query \(result.id) to \(result.sites.count) sites")
            context.console.print("read the result with: fx analytics result \(result.id) --wait")
        }
        return 0
    }

    static let resultCommand = Command(
        "result", abstract: "Print a query's combined result: a table per column (and label), or JSON.",
        arguments: [id, wait] + DirectorConnection.options + [DirectorConnection.json]
    ) { args, context in
        let client = try DirectorConnection.client(args, context)
        let name = try args.required(Self.id)
        var result = try client.analyticsResult(name)
        if args[Self.wait] && !result.isComplete {
            result = try client.completedAnalytics(name, deadline: .after(seconds: result.query.deadlineSeconds + 30))
        }
        context.console.print(args[DirectorConnection.json] ? try DirectorConnection.jsonText(result) : AnalyticsTable.describe(result))
        return result.isComplete ? 0 : 2
    }

    static let query = Option("--query", value: "YAML", help: "The query, inline.")
    static let file = Option("--file", value: "FILE", help: "A query file.")
    static let workspace = Option("--workspace", value: "DIR", help: "A workspace whose plan/analytics.yaml is the query.")
    static let wait = Flag("--wait", help: "Wait until every site answered or the query's timeout passed.")
    static let id = Positional("id", help: "The query's id, as submit printed it.")

    /// The query from exactly one of --query, --file and --workspace.
    static func readQuery(_ args: ParsedArguments, _ context: CommandContext) throws -> AnalyticsQuery {
        let given = [args[Self.query] != nil, args[Self.file] != nil, args[Self.workspace] != nil].filter { $0 }.count
        guard given == 1 else { throw args.error("give the query with exactly one of --query, --file and --workspace") }
        if let text = args[Self.query] { return try AnalyticsQuery.parse(text, source: "--query") }
        let path = args[Self.file].map { context.absolute($0) } ?? "\(context.absolute(args[Self.workspace]!))/plan/analytics.yaml"
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw FileError(path: path, operation: "read the query", reason: "\(error.localizedDescription)")
        }
        return try AnalyticsQuery.parse(text, source: path)
    }
}
