// Flow collections: `[a, b]` and `{k: v}`.
extension YAMLReader {
    /// Skips whitespace, line breaks and comments inside a flow collection. Continuation lines must
    /// be indented at least `minIndent` (a closing bracket one less, i.e. at its parent's indentation).
    mutating func skipFlowSpace(minIndent: Int, open: TextLocation, closer: UInt8) throws(PlanError) {
        while true {
            guard pos < end else {
                let name = closer == RBRACKET ? "flow sequence" : "flow mapping"
                throw fail(at: open, "expected '\(closer == RBRACKET ? "]" : "}")' to close the \(name) that starts here, found the end of the input")
            }
            let c = b[pos]
            if c == SPACE {
                pos += 1
            } else if c == TAB {
                throw tabError(pos)
            } else if c == HASH {
                guard pos == lineStart || b[pos - 1] == SPACE else {
                    throw fail(pos, "expected a space before '#' (a comment starts only after whitespace), found '#' right after the previous token")
                }
                while !isBreakOrEnd(pos) { pos += 1 }
            } else if isBreak(c) {
                consumeBreak()
                var p = pos
                while at(p) == SPACE { p += 1 }
                guard p < end else { pos = p; continue }
                let d = b[p]
                if d == TAB { throw tabError(p) }
                if isBreak(d) || d == HASH { pos = p; continue }
                if let marker = documentMarker(lineStart) {
                    throw fail(lineStart, "expected the flow collection started at line \(open.line), column \(open.column) to continue, found a document marker '\(marker == DASH ? "---" : "...")'")
                }
                let indent = p - lineStart
                let closing = d == RBRACKET || d == RBRACE
                if indent < minIndent && !(closing && indent >= minIndent - 1) {
                    throw fail(p, "expected this line of the flow collection started at line \(open.line), column \(open.column) to be indented at least \(minIndent) space\(minIndent == 1 ? "" : "s"), found \(indent)")
                }
                pos = p
            } else {
                return
            }
        }
    }

    mutating func parseFlowSequence(minIndent: Int) throws(PlanError) -> PlanNode {
        try enter(pos)
        defer { depth -= 1 }
        let open = here()
        pos += 1
        var items: [PlanNode] = []
        while true {
            try skipFlowSpace(minIndent: minIndent, open: open, closer: RBRACKET)
            if b[pos] == RBRACKET {
                pos += 1
                break
            }
            let itemLine = line
            let (item, kind) = try parseInline(flow: true, minIndent: minIndent)
            try skipFlowSpace(minIndent: minIndent, open: open, closer: RBRACKET)
            if b[pos] == COLON && (kind != .plain || isBlankOrEnd(pos + 1) || isFlowIndicator(at(pos + 1))) {
                throw fail(pos, "expected ',' or ']', found ':' — 'key: value' pairs directly inside '[ ]' are not supported; write [{key: value}]")
            }
            items.append(item)
            if b[pos] == COMMA {
                pos += 1
                continue
            }
            if b[pos] == RBRACKET {
                pos += 1
                break
            }
            let hint = kind == .plain && line != itemLine
                ? " (a plain scalar cannot continue on the next line: put multi-line text in quotes)" : ""
            throw fail(pos, "expected ',' or ']' in the flow sequence started at line \(open.line), column \(open.column), found \(found(pos))\(hint)")
        }
        return PlanNode(.sequence(items), location: open)
    }

    mutating func parseFlowMapping(minIndent: Int) throws(PlanError) -> PlanNode {
        try enter(pos)
        defer { depth -= 1 }
        let open = here()
        pos += 1
        var mapping = PlanMapping()
        while true {
            try skipFlowSpace(minIndent: minIndent, open: open, closer: RBRACE)
            if b[pos] == RBRACE {
                pos += 1
                break
            }
            let keyLoc = here()
            let keyLine = line
            let (k, kind) = try parseInline(flow: true, minIndent: minIndent)
            let key = try makeKey(k, kind, startLine: keyLine, at: keyLoc)
            try skipSpaces()
            let value: PlanNode
            if at(pos) == COLON && (kind.isQuoted || isBlankOrEnd(pos + 1) || isFlowIndicator(at(pos + 1))) {
                let colon = here()
                pos += 1
                try skipFlowSpace(minIndent: minIndent, open: open, closer: RBRACE)
                if b[pos] == COMMA || b[pos] == RBRACE {
                    value = PlanNode(.null, location: colon)
                } else {
                    value = try parseInline(flow: true, minIndent: minIndent).0
                    try skipFlowSpace(minIndent: minIndent, open: open, closer: RBRACE)
                }
            } else {
                try skipFlowSpace(minIndent: minIndent, open: open, closer: RBRACE)
                if b[pos] == COLON {
                    throw fail(pos, line != keyLine
                        ? "expected ',' or '}', found ':' on a later line than its key; put ':' on the same line as the key"
                        : "expected ': ' (with a space) after the key, found ':' followed by \(found(pos + 1))")
                }
                value = PlanNode(.null, location: keyLoc)
            }
            if let first = mapping.entry(forKey: key) {
                let at = first.keyLocation.map { " (first defined at line \($0.line), column \($0.column))" } ?? ""
                throw fail(at: keyLoc, "duplicate key \(JSONWriter.quoted(key))\(at); each key may appear once in a mapping")
            }
            mapping.updateValue(value, forKey: key, keyLocation: keyLoc)
            if b[pos] == COMMA {
                pos += 1
                continue
            }
            if b[pos] == RBRACE {
                pos += 1
                break
            }
            throw fail(pos, "expected ',' or '}' in the flow mapping started at line \(open.line), column \(open.column), found \(found(pos))")
        }
        return PlanNode(.mapping(mapping), location: open)
    }
}
