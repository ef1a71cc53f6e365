// Document and block structure.
extension YAMLReader {
    mutating func parseDocument() throws(PlanError) -> PlanNode {
        try checkText()
        try skipEmptyLines(markersAllowed: true)
        if pos < end && pos == lineStart {
            if b[pos] == 0x25 {
                throw fail(pos, "found a directive ('%'); directives such as %YAML and %TAG are not supported")
            }
            if let marker = documentMarker(pos) {
                guard marker == DASH else { throw markerError(marker, pos) }
                pos += 3
                while at(pos) == SPACE { pos += 1 }
                guard at(pos) == HASH || isBreakOrEnd(pos) else {
                    if at(pos) == TAB { throw tabError(pos) }
                    throw fail(pos, "expected the end of the line after '---', found \(found(pos)); start the content on the next line")
                }
                try finishLine(after: "'---'")
                try skipEmptyLines()
            }
        }
        guard pos < end else { return PlanNode(.null) }
        let node = try parseBlockNode(parentIndent: -1)
        if pos < end {
            throw fail(pos, "expected the end of the document, found \(found(pos)); the value above ended before this line\(plainHint().isEmpty ? " (check its indentation)" : plainHint())")
        }
        return node
    }

    /// A node that starts at `pos` in block context: a block sequence, a block mapping (if an
    /// inline node is followed by `: `), or a single inline node. Returns with `pos` at the start
    /// of the next content line, or the end.
    mutating func parseBlockNode(parentIndent: Int) throws(PlanError) -> PlanNode {
        // Everything before `pos` on this line is spaces or `- ` indicators, so bytes are columns.
        let indent = pos - lineStart
        if isBlockEntry(pos) { return try parseBlockSequence(indent: indent) }
        let start = here()
        let startLine = line
        let (node, kind) = try parseInline(flow: false, minIndent: parentIndent + 1)
        try skipSpaces()
        if at(pos) == COLON && isBlankOrEnd(pos + 1) {
            let key = try makeKey(node, kind, startLine: startLine, at: start)
            return try parseBlockMapping(indent: indent, firstKey: key, keyLocation: start)
        }
        let comment = try finishLine(after: kind.name)
        try skipEmptyLines()
        plainMayContinue = kind == .plain && !comment
        return node
    }

    mutating func enter(_ p: Int) throws(PlanError) {
        depth += 1
        if depth > YAMLParser.maxDepth {
            throw fail(p, "expected at most \(YAMLParser.maxDepth) levels of nesting, found more")
        }
    }

    /// Checks that an inline node can be a key: a string scalar on one line.
    mutating func makeKey(_ node: PlanNode, _ kind: InlineKind, startLine: Int, at loc: TextLocation) throws(PlanError) -> String {
        if kind.isCollection {
            throw fail(at: loc, "expected a string key, found \(kind == .flowSequence ? "a flow sequence" : "a flow mapping"); keys must be strings")
        }
        if line != startLine {
            throw fail(at: loc, "expected a key on a single line, found a quoted key spanning lines")
        }
        guard case let .string(key) = node.value else {
            throw fail(at: loc, "expected a string key, found \(node.value.summary); quote the key to make it a string")
        }
        if key.unicodeScalars.count > YAMLParser.maxKeyLength {
            throw fail(at: loc, "expected a key of at most \(YAMLParser.maxKeyLength) characters, found \(key.unicodeScalars.count)")
        }
        return key
    }

    mutating func parseBlockMapping(indent m: Int, firstKey: String, keyLocation: TextLocation) throws(PlanError) -> PlanNode {
        try enter(pos)
        defer { depth -= 1 }
        var mapping = PlanMapping()
        var key = firstKey
        var keyLoc = keyLocation
        while true {
            // At the ':' that ends `key`.
            pos += 1
            try skipSpaces()
            let value: PlanNode
            if at(pos) == HASH || isBreakOrEnd(pos) {
                let emptyLoc = here()
                try finishLine(after: "':'")
                try skipEmptyLines()
                plainMayContinue = false
                let j = pos - lineStart
                if pos < end && j > m {
                    value = try parseBlockNode(parentIndent: m)
                } else if pos < end && j == m && isBlockEntry(pos) {
                    value = try parseBlockSequence(indent: m)
                } else {
                    value = PlanNode(.null, location: emptyLoc)
                }
            } else {
                if isBlockEntry(pos) {
                    throw fail(pos, "expected a value after '\(key):', found a sequence entry '- ' on the same line; put each '- item' on its own line below the key")
                }
                let (inline, kind) = try parseInline(flow: false, minIndent: m + 1)
                try skipSpaces()
                if at(pos) == COLON && isBlankOrEnd(pos + 1) {
                    throw fail(pos, "expected the end of the line after the value of '\(key)', found ': ' (a nested mapping); put the nested mapping on the next line, indented, or quote the value")
                }
                let comment = try finishLine(after: kind.name)
                try skipEmptyLines()
                plainMayContinue = kind == .plain && !comment
                value = inline
            }
            if let first = mapping.entry(forKey: key) {
                let at = first.keyLocation.map { " (first defined at line \($0.line), column \($0.column))" } ?? ""
                throw fail(at: keyLoc, "duplicate key \(JSONWriter.quoted(key))\(at); each key may appear once in a mapping")
            }
            mapping.updateValue(value, forKey: key, keyLocation: keyLoc)

            if pos >= end { break }
            let j = pos - lineStart
            if j < m { break }
            if j > m {
                throw fail(pos, "expected a key at column \(m + 1) (or less indentation, ending the mapping), found \(found(pos)) at column \(j + 1)\(plainHint())")
            }
            if isBlockEntry(pos) {
                throw fail(pos, "expected a key at column \(m + 1), found a sequence entry '- ' in the mapping")
            }
            keyLoc = here()
            let startLine = line
            let (k, kind) = try parseInline(flow: false, minIndent: m + 1)
            try skipSpaces()
            guard at(pos) == COLON && isBlankOrEnd(pos + 1) else {
                throw fail(pos, "expected ':' after the key (a 'key: value' entry at this indentation), found \(found(pos))\(kind == .plain ? "" : " after \(kind.name)")")
            }
            key = try makeKey(k, kind, startLine: startLine, at: keyLoc)
        }
        return PlanNode(.mapping(mapping), location: keyLocation)
    }

    mutating func parseBlockSequence(indent s: Int) throws(PlanError) -> PlanNode {
        try enter(pos)
        defer { depth -= 1 }
        let start = here()
        var items: [PlanNode] = []
        while true {
            // At the '-' of an entry.
            let dash = here()
            pos += 1
            try skipSpaces()
            if at(pos) == HASH || isBreakOrEnd(pos) {
                try finishLine(after: "'-'")
                try skipEmptyLines()
                plainMayContinue = false
                if pos < end && pos - lineStart > s {
                    items.append(try parseBlockNode(parentIndent: s))
                } else {
                    items.append(PlanNode(.null, location: dash))
                }
            } else {
                items.append(try parseBlockNode(parentIndent: s))
            }
            if pos >= end { break }
            let j = pos - lineStart
            if j < s { break }
            if j > s {
                throw fail(pos, "expected '- ' at column \(s + 1) (or less indentation, ending the sequence), found \(found(pos)) at column \(j + 1)\(plainHint())")
            }
            if !isBlockEntry(pos) { break }
        }
        return PlanNode(.sequence(items), location: start)
    }
}
