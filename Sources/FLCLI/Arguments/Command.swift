/// A node of the `fx` command tree: either a group of subcommands or a runnable command with its
/// arguments. Help and usage text are generated from the specs, so they cannot drift from the parser.
public struct Command: Sendable {
    public typealias Action = @Sendable (ParsedArguments, CommandContext) throws -> Int32

    public var name: String
    /// One line: what the command does.
    public var abstract: String
    /// More text for `--help`: examples, what files are read and written.
    public var discussion: String
    /// The specs of the declared arguments, in the order usage and help show them.
    public var arguments: [ArgumentSpec]
    public var subcommands: [Command]
    public var action: Action?
    /// What `--version` prints; set on the executables' root commands only.
    public var version: String?

    /// A runnable command, taking the declared arguments (each name once); the action reads their
    /// values through the same declarations.
    public init(_ name: String, abstract: String, discussion: String = "", arguments: [any CommandArgument] = [], action: @escaping Action) {
        self.name = name
        self.abstract = abstract
        self.discussion = discussion
        self.arguments = arguments.map(\.spec)
        precondition(Set(self.arguments.map(\.name)).count == self.arguments.count, "\(name) declares an argument twice")
        self.subcommands = []
        self.action = action
    }

    /// A group of subcommands.
    public init(_ name: String, abstract: String, discussion: String = "", subcommands: [Command]) {
        self.name = name
        self.abstract = abstract
        self.discussion = discussion
        self.arguments = []
        self.subcommands = subcommands
        self.action = nil
    }

    /// The same command, answering `--version` with `version`.
    public func versioned(_ version: String) -> Command {
        var command = self
        command.version = version
        return command
    }

    /// Finds the command the words name, parses the rest, and runs it. Usage errors and failures are
    /// printed to the context's error stream; the result is the process exit status.
    public func main(_ words: [String], context: CommandContext) -> Int32 {
        do {
            return try dispatch(words[...], path: name, context: context)
        } catch let error as CommandLineError {
            context.console.error("\(error)")
            return 64
        } catch {
            context.console.error("\(name): error: \(error)")
            return 1
        }
    }

    private func dispatch(_ words: ArraySlice<String>, path: String, context: CommandContext) throws -> Int32 {
        if let version, words.first == "--version" {
            context.console.print(version)
            return 0
        }
        if words.first == "--help" || words.first == "-h" || words.first == "help" {
            context.console.print(help(path: path))
            return 0
        }
        if !subcommands.isEmpty {
            guard let word = words.first else {
                context.console.print(help(path: path))
                return 64
            }
            guard let sub = subcommands.first(where: { $0.name == word }) else {
                let names = subcommands.map(\.name).joined(separator: ", ")
                throw CommandLineError(commandPath: path, message: "unknown command '\(word)' (expected one of: \(names))")
            }
            return try sub.dispatch(words.dropFirst(), path: "\(path) \(sub.name)", context: context)
        }
        if words.contains("--help") || words.contains("-h") {
            context.console.print(help(path: path))
            return 0
        }
        let parsed = try ParsedArguments(parsing: words, arguments: arguments, commandPath: path)
        return try action!(parsed, context)
    }

    /// The `--help` text.
    public func help(path: String) -> String {
        var out = "OVERVIEW: \(abstract)\n"
        if !discussion.isEmpty { out += "\n\(discussion)\n" }
        if subcommands.isEmpty {
            let usage = ([path] + arguments.map(\.usage)).joined(separator: " ")
            out += "\nUSAGE: \(usage)\n"
            let rows = arguments.map { ($0.listing, $0.help + ($0.isRequired ? "" : $0.kind == .positional ? " (optional)" : "")) }
                + [("-h, --help", "Show help information.")] + (version == nil ? [] : [("--version", "Show the version and the commit built from.")])
            out += "\nOPTIONS:\n" + Command.table(rows)
        } else {
            out += "\nUSAGE: \(path) <subcommand>\n\nSUBCOMMANDS:\n" + Command.table(subcommands.map { ($0.name, $0.abstract) })
            out += "\n  See '\(path) <subcommand> --help' for detailed help.\n"
            if version != nil { out += "  '\(path) --version' prints the version and the commit it was built from.\n" }
        }
        return out
    }

    private static func table(_ rows: [(String, String)]) -> String {
        let width = min(30, (rows.map(\.0.count).max() ?? 0) + 2)
        return rows.map { left, right in
            let pad = left.count >= width ? "\n" + String(repeating: " ", count: width + 2) : String(repeating: " ", count: width - left.count)
            return "  \(left)\(pad)\(right)\n"
        }.joined()
    }
}
