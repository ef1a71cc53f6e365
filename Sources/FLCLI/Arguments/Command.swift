/// A node of the `fx` command tree: either a group of subcommands or a runnable command with its
/// arguments. Help and usage text are generated from the specs, so they cannot drift from the parser.
public struct Command: Sendable {
    public typealias Action = @Sendable (ParsedArguments, CommandContext) throws -> Int32

    public var name: String
    /// One line: what the command does.
    public var abstract: String
    /// More text for `--help`: examples, what files are read and written.
    public var discussion: String
    public var arguments: [ArgumentSpec]
    public var subcommands: [Command]
    public var action: Action?
    /// What `--version` prints; set on the executables' root commands only.
    public var version: String?

    /// A runnable command.
    public init(_ name: String, abstract: String, discussion: String = "", arguments: [ArgumentSpec] = [], action: @escaping Action) {
        self.name = name
        self.abstract = abstract
        self.discussion = discussion
        self.arguments = arguments
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
        let parsed = try parse(words, path: path)
        return try action!(parsed, context)
    }

    /// Parses `words` against this command's argument specs.
    func parse(_ words: ArraySlice<String>, path: String) throws -> ParsedArguments {
        var parsed = ParsedArguments(commandPath: path)
        let positionals = arguments.filter { $0.kind == .positional }
        var positionalIndex = 0
        var rest = words
        var onlyPositionals = false
        func fail(_ message: String) -> CommandLineError { CommandLineError(commandPath: path, message: message) }
        while let word = rest.popFirst() {
            if !onlyPositionals && word == "--" {
                onlyPositionals = true
                continue
            }
            if !onlyPositionals && word.hasPrefix("-") && word.count > 1 && Double(word) == nil {
                var name = word, inlineValue: String? = nil
                if let eq = word.firstIndex(of: "="), word.hasPrefix("--") {
                    name = String(word[..<eq])
                    inlineValue = String(word[word.index(after: eq)...])
                }
                guard let spec = arguments.first(where: { $0.kind != .positional && $0.names.contains(name) }) else {
                    throw fail("unknown option '\(name)'")
                }
                switch spec.kind {
                case .flag:
                    if inlineValue != nil { throw fail("\(spec.key) takes no value") }
                    parsed.flags.insert(spec.key)
                case .option, .repeatedOption:
                    guard let value = inlineValue ?? rest.popFirst() else { throw fail("\(spec.key) needs a value (\(spec.valueName))") }
                    if spec.kind == .option, parsed.values[spec.key] != nil { throw fail("\(spec.key) given more than once") }
                    parsed.values[spec.key, default: []].append(value)
                case .positional:
                    break
                }
                continue
            }
            guard positionalIndex < positionals.count else { throw fail("unexpected argument '\(word)'") }
            parsed.values[positionals[positionalIndex].key] = [word]
            positionalIndex += 1
        }
        for spec in arguments where spec.isRequired && parsed.values[spec.key] == nil {
            throw fail(spec.kind == .positional ? "missing <\(spec.key)>" : "missing \(spec.key) \(spec.valueName)")
        }
        return parsed
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
