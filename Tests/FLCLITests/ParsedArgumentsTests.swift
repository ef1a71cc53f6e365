import Testing
@testable import FLCLI
import FLCore
import FLWire

/// The typed arguments: declared once, parsed and converted before a command runs, read through
/// the same declarations, with usage errors that name the argument and what it expects.
@Suite struct ParsedArgumentsTests {
    static let plan = Option("--plan", value: "FILE", help: "The plan.", required: true)
    static let port = Option("--port", value: "PORT", help: "A port.", as: .integer(in: 0...65535))
    static let days = Option("--days", value: "N", help: "Days.", default: 365, as: .integer(in: 1...36500))
    static let peer = Option("--peer", value: "HOST:PORT", help: "A peer.", as: .endpoint)
    static let level = Option("--log-level", value: "LEVEL", help: "A level.", default: .info, as: .logLevel)
    static let parity = Option("--parity", value: "N", help: "An even number.", as: ValueParser<Int> { text in
        guard let n = Int(text) else { return .failure(.expected("an integer")) }
        return n % 2 == 0 ? .success(n) : .failure(.refused("\(n) is odd; give an even number"))
    })
    static let json = Flag("--json", help: "JSON.")
    static let host = RepeatedOption("--host", value: "HOST", help: "A host.")
    static let counts = RepeatedOption("--count", value: "N", help: "A count.", as: .integer(in: 0...9))
    static let file = Positional("file", help: "A file.")
    static let extra = Positional("extra", help: "Another.", required: false)

    static let all: [any CommandArgument] = [plan, port, days, peer, level, parity, json, host, counts, file, extra]

    func parse(_ words: [String], _ arguments: [any CommandArgument] = all) throws -> ParsedArguments {
        try ParsedArguments(parsing: words[...], arguments: arguments.map(\.spec), commandPath: "fx try")
    }

    /// The usage error's message for `words`, or nil when they parse.
    func refusal(_ words: [String], _ arguments: [any CommandArgument] = all) -> String? {
        do {
            _ = try parse(words, arguments)
            return nil
        } catch let error as CommandLineError {
            #expect(error.commandPath == "fx try")
            return error.message
        } catch {
            Issue.record("not a usage error: \(error)")
            return nil
        }
    }

    @Test func readsEachArgumentAsItsDeclaredType() throws {
        let parsed = try parse(["--plan=p.yaml", "--port", "9000", "--peer", "[::1]:80", "--log-level", "warning", "--json", "f.csv", "more"])
        #expect(try parsed.required(Self.plan) == "p.yaml")
        #expect(parsed[Self.port] == 9000)
        #expect(parsed[Self.peer] == Endpoint(host: "::1", port: 80))
        #expect(parsed[Self.level] == .warning)
        #expect(parsed[Self.json])
        #expect(try parsed.required(Self.file) == "f.csv")
        #expect(parsed[Self.extra] == "more")
    }

    @Test func anAbsentArgumentReadsAsItsDefaultOrNothing() throws {
        let parsed = try parse(["--plan", "p", "f"])
        #expect(parsed[Self.days] == 365)
        #expect(try parsed.required(Self.days) == 365)
        #expect(parsed[Self.level] == .info)
        #expect(parsed[Self.port] == nil && parsed[Self.peer] == nil && parsed[Self.extra] == nil)
        #expect(!parsed[Self.json])
        #expect(parsed[Self.host].isEmpty)
        #expect(throws: CommandLineError.self) { try parsed.required(Self.port) }
    }

    @Test func aRepeatedOptionKeepsEveryValueInOrder() throws {
        let parsed = try parse(["--plan", "p", "--host", "b", "--count=3", "f", "--host", "a", "--count", "0"])
        #expect(parsed[Self.host] == ["b", "a"])
        #expect(parsed[Self.counts] == [3, 0])
        #expect(refusal(["--plan", "p", "f", "--count", "10"]) == "--count expects an integer in 0...9, got '10'")
    }

    @Test(arguments: [
        ([], "missing --plan FILE"),
        (["--plan", "p"], "missing <file>"),
        (["--plan", "p", "f", "--nope"], "unknown option '--nope'"),
        (["--plan", "p", "f", "-x"], "unknown option '-x'"),
        (["--plan", "p", "f", "--plan", "q"], "--plan given more than once"),
        (["f", "--plan"], "--plan needs a value (FILE)"),
        (["--plan", "p", "f", "--json=yes"], "--json takes no value"),
        (["--plan", "p", "f", "g", "h"], "unexpected argument 'h'"),
        (["--plan", "p", "f", "--port", "65536"], "--port expects an integer in 0...65535, got '65536'"),
        (["--plan", "p", "f", "--port", "eighty"], "--port expects an integer in 0...65535, got 'eighty'"),
        (["--plan", "p", "f", "--days", "0"], "--days expects an integer in 1...36500, got '0'"),
        (["--plan", "p", "f", "--peer", "nowhere"], "--peer expects HOST:PORT, got 'nowhere'"),
        (["--plan", "p", "f", "--log-level", "loud"], "--log-level expects debug, info, warning or error, got 'loud'"),
        (["--plan", "p", "f", "--parity", "x"], "--parity expects an integer, got 'x'"),
        (["--plan", "p", "f", "--parity", "3"], "--parity: 3 is odd; give an even number"),
    ])
    func refusesWhatDoesNotFitNamingTheArgument(words: [String], message: String) {
        #expect(refusal(words) == message)
    }

    @Test func aMissingArgumentIsReportedBeforeABadValue() {
        #expect(refusal(["--port", "x", "f"]) == "missing --plan FILE")
    }

    @Test func wordsAfterADoubleDashAndNegativeNumbersArePositionals() throws {
        let parsed = try parse(["--plan", "p", "--", "--json", "-1"])
        #expect(parsed[Self.file] == "--json" && parsed[Self.extra] == "-1" && !parsed[Self.json])
        #expect(try parse(["--plan", "p", "-2.5"])[Self.file] == "-2.5")
    }

    @Test func anOptionFallsBackToTextReadTheSameWay() throws {
        let given = try parse(["--plan", "p", "f", "--peer", "a:1"])
        #expect(try given.value(Self.peer, orParsing: "b:2") == Endpoint(host: "a", port: 1))
        let absent = try parse(["--plan", "p", "f"])
        #expect(try absent.value(Self.peer, orParsing: "b:2") == Endpoint(host: "b", port: 2))
        #expect(try absent.value(Self.peer, orParsing: nil) == nil)
        #expect(throws: CommandLineError.self) { try absent.value(Self.peer, orParsing: "b") }
        do {
            _ = try absent.value(Self.peer, orParsing: "b")
        } catch {
            #expect(error.message == "--peer expects HOST:PORT, got 'b'")
        }
    }

    @Test func helpAndUsageComeFromTheDeclarations() {
        let command = Command("try", abstract: "Try.", arguments: [Self.plan, Self.json, Self.host, Self.days, Self.extra]) { _, _ in 0 }
        let help = command.help(path: "fx try")
        #expect(help.contains("USAGE: fx try --plan FILE [--json] [--host HOST...] [--days N] [<extra>]\n"), "\(help)")
        #expect(help.contains("  --plan FILE"), "\(help)")
        #expect(help.contains("Another. (optional)"), "\(help)")
    }
}
