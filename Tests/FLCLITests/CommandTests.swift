import Testing
@testable import FLCLI
import FLWire

@Suite struct CommandTests {
    static let plan = Option("--plan", value: "FILE", help: "The plan.", required: true)
    static let json = Flag("--json", help: "JSON.")
    static let host = RepeatedOption("--host", value: "HOST", help: "A host.")
    static let port = Option("--port", value: "PORT", help: "A port.", default: 0, as: .integer(in: 0...65535))
    static let target = Positional("target", help: "What to run.", required: false)

    static let tool = Command("tool", abstract: "A tool.", subcommands: [
        Command("run", abstract: "Run it.", arguments: [plan, json, host, port, target]) { args, context in
            context.console.print("plan=\(try args.required(plan)) json=\(args[json]) hosts=\(args[host]) "
                                  + "port=\(try args.required(port)) target=\(args[target] ?? "-")")
            return 0
        },
    ])

    func run(_ words: [String]) -> (Int32, String, String) {
        let (console, captured) = Console.capturing()
        let status = CommandTests.tool.main(words, context: CommandContext(console: console))
        return (status, captured.standardOutput, captured.standardError)
    }

    @Test func parsesOptionsFlagsRepeatsAndPositionals() {
        let (status, out, _) = run(["run", "--plan=p.yaml", "--json", "--host", "a", "--host", "b", "--port", "9", "x"])
        #expect(status == 0)
        #expect(out == "plan=p.yaml json=true hosts=[\"a\", \"b\"] port=9 target=x\n")
    }

    @Test(arguments: [
        (["run"], "tool run: missing --plan FILE"),
        (["run", "--plan", "p", "--nope"], "tool run: unknown option '--nope'"),
        (["run", "--plan", "p", "--plan", "q"], "tool run: --plan given more than once"),
        (["run", "--plan"], "tool run: --plan needs a value (FILE)"),
        (["run", "--plan", "p", "--json=1"], "tool run: --json takes no value"),
        (["run", "--plan", "p", "--port", "70000"], "tool run: --port expects an integer in 0...65535, got '70000'"),
        (["run", "--plan", "p", "a", "b"], "tool run: unexpected argument 'b'"),
        (["walk"], "tool: unknown command 'walk' (expected one of: run)"),
    ])
    func reportsUsageErrorsWithStatus64(words: [String], message: String) {
        let (status, _, err) = run(words)
        #expect(status == 64)
        #expect(err.hasPrefix(message), "\(err)")
        #expect(err.contains("See 'tool"))
    }

    @Test func helpListsEveryOption() {
        let (status, out, _) = run(["run", "--help"])
        #expect(status == 0)
        for text in ["USAGE: tool run --plan FILE [--json] [--host HOST...] [--port PORT] [<target>]", "--plan FILE", "The plan.", "-h, --help"] {
            #expect(out.contains(text), "\(out)")
        }
        #expect(run(["--help"]).1.contains("SUBCOMMANDS:"))
    }

    @Test func everyFxCommandHasHelp() {
        func walk(_ command: Command, path: [String]) {
            let (console, captured) = Console.capturing()
            let status = FX.command.main(path + ["--help"], context: CommandContext(console: console))
            #expect(status == 0, "\(path)")
            #expect(captured.standardOutput.contains("OVERVIEW: \(command.abstract)"), "\(path)")
            for sub in command.subcommands { walk(sub, path: path + [sub.name]) }
        }
        walk(FX.command, path: [])
    }

    @Test(arguments: [("host:80", "host", 80), ("[::1]:9000", "::1", 9000), ("10.0.0.1:1", "10.0.0.1", 1)])
    func parsesEndpoints(text: String, host: String, port: Int) throws {
        let endpoint = try #require(Endpoint(text))
        #expect(endpoint.host == host && endpoint.port == port)
    }

    @Test(arguments: ["host", "host:0", "host:99999", ":80", "[::1]80", "host:x"])
    func refusesBadEndpoints(text: String) { #expect(Endpoint(text) == nil) }

    @Test func versionIsAnsweredOnlyWhereSetAndBeforeArgumentsAreChecked() {
        let versioned = CommandTests.tool.versioned("Tool 1.2 (commit abc)")
        let (console, captured) = Console.capturing()
        #expect(versioned.main(["--version"], context: CommandContext(console: console)) == 0)
        #expect(captured.standardOutput == "Tool 1.2 (commit abc)\n")
        #expect(versioned.help(path: "tool").contains("--version"))
        // Without a version the word is an unknown command, as before.
        let (status, _, error) = run(["--version"])
        #expect(status == 64)
        #expect(error.contains("unknown command '--version'"))
        // A runnable root command answers before its required options are asked for.
        let runnable = Command("agg", abstract: "A role.", arguments: [CommandTests.plan]) { _, _ in 1 }
            .versioned("Agg 2")
        let (console2, captured2) = Console.capturing()
        #expect(runnable.main(["--version"], context: CommandContext(console: console2)) == 0)
        #expect(captured2.standardOutput == "Agg 2\n")
    }

    @Test func theExecutablesCarryTheBuildsVersion() {
        for command in [FX.command, AggregatorProcess.command, CollaboratorProcess.command] {
            #expect(command.version == BuildInfo.summary)
        }
        #expect(BuildInfo.summary.hasPrefix("SwiftFL \(BuildInfo.version) (commit "))
        // An installation's one binary answers to the name it is run by.
        #expect(FX.command(invokedAs: "fx-aggregator").name == "fx-aggregator")
        #expect(FX.command(invokedAs: "fx-collaborator").name == "fx-collaborator")
        #expect(FX.command(invokedAs: "fx").name == "fx" && FX.command(invokedAs: "swiftfl").name == "fx")
        #expect(!BuildInfo.commit.isEmpty)
    }
}
