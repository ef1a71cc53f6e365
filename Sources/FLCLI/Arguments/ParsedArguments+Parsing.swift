extension ParsedArguments {
    /// Parses `words` against `arguments`: every option known and given as its kind allows, every
    /// required argument present, then each value converted by its declaration's parser (in the
    /// order declared), so a command's action only runs on a command line that reads.
    init(parsing words: ArraySlice<String>, arguments: [ArgumentSpec], commandPath path: String) throws {
        self.init(commandPath: path, declared: Set(arguments.map(\.name)))
        var texts: [String: [String]] = [:]
        let positionals = arguments.filter { $0.kind == .positional }
        var positionalIndex = 0
        var rest = words
        var onlyPositionals = false
        while let word = rest.popFirst() {
            if !onlyPositionals && word == "--" {
                onlyPositionals = true
                continue
            }
            if !onlyPositionals && word.hasPrefix("-") && word.count > 1 && Double(word) == nil {
                try take(option: word, from: &rest, into: &texts, arguments: arguments)
                continue
            }
            guard positionalIndex < positionals.count else { throw error("unexpected argument '\(word)'") }
            texts[positionals[positionalIndex].name] = [word]
            positionalIndex += 1
        }
        for spec in arguments where spec.isRequired && texts[spec.name] == nil {
            throw error("missing \(spec.synopsis)")
        }
        for spec in arguments where spec.kind != .flag {
            values[spec.name] = try texts[spec.name]?.map { text in try spec.value(of: text, commandPath: path) }
        }
    }

    /// Takes the option `word` (`--plan`, `--plan=FILE`) and the value it needs from `rest`.
    private mutating func take(option word: String, from rest: inout ArraySlice<String>, into texts: inout [String: [String]],
                               arguments: [ArgumentSpec]) throws(CommandLineError) {
        var name = word, inlineValue: String? = nil
        if let eq = word.firstIndex(of: "="), word.hasPrefix("--") {
            name = String(word[..<eq])
            inlineValue = String(word[word.index(after: eq)...])
        }
        guard let spec = arguments.first(where: { $0.kind != .positional && $0.name == name }) else {
            throw error("unknown option '\(name)'")
        }
        switch spec.kind {
        case .flag:
            if inlineValue != nil { throw error("\(spec.name) takes no value") }
            flags.insert(spec.name)
        case .option, .repeatedOption:
            guard let value = inlineValue ?? rest.popFirst() else { throw error("\(spec.name) needs a value (\(spec.valueName))") }
            if spec.kind == .option, texts[spec.name] != nil { throw error("\(spec.name) given more than once") }
            texts[spec.name, default: []].append(value)
        case .positional:
            break
        }
    }
}
