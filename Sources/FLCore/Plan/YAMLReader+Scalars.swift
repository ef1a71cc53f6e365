// Inline nodes: plain and quoted scalars, line folding, escapes.
extension YAMLReader {
    /// A node that fits in flow context: a flow collection, a quoted scalar or a plain scalar.
    /// `minIndent` is the indentation continuation lines need.
    mutating func parseInline(flow: Bool, minIndent: Int) throws(PlanError) -> (PlanNode, InlineKind) {
        plainMayContinue = false
        let c = at(pos)
        switch c {
        case LBRACKET: return (try parseFlowSequence(minIndent: minIndent), .flowSequence)
        case LBRACE: return (try parseFlowMapping(minIndent: minIndent), .flowMapping)
        case SQUOTE: return (try parseQuoted(double: false, minIndent: minIndent), .singleQuoted)
        case DQUOTE: return (try parseQuoted(double: true, minIndent: minIndent), .doubleQuoted)
        default: return (try parsePlain(flow: flow), .plain)
        }
    }

    mutating func parsePlain(flow: Bool) throws(PlanError) -> PlanNode {
        let start = pos
        let c = at(pos)
        let next = at(pos + 1)
        let nextIsSafe = !isBlankOrEnd(pos + 1) && !(flow && isFlowIndicator(next))
        switch c {
        case 0x26: throw fail(pos, "found an anchor ('&'), which plans do not support; write the value out, or quote it if it is a string")
        case 0x2A: throw fail(pos, "found an alias ('*'), which plans do not support; write the value out, or quote it if it is a string")
        case 0x21: throw fail(pos, "found a tag ('!'), which plans do not support; quote the value if it is a string")
        case 0x7C, 0x3E: throw fail(pos, "found a block scalar ('\(c == 0x7C ? "|" : ">")'), which plans do not support; use a double-quoted string with \\n escapes")
        case 0x25: throw fail(pos, "expected a value, found '%', which cannot start a plain scalar; quote the value")
        case 0x40, 0x60: throw fail(pos, "expected a value, found \(found(pos)), which is reserved in YAML and cannot start a plain scalar; quote the value")
        case HASH: throw fail(pos, "expected a value, found '#' right after the previous token; a comment needs a space before '#'")
        case COMMA, RBRACKET, RBRACE, LBRACKET, LBRACE: throw fail(pos, "expected a value, found \(found(pos))")
        case QUESTION where !nextIsSafe:
            throw fail(pos, "found a complex key ('? '), which plans do not support; write 'key: value'")
        case COLON where !nextIsSafe:
            throw fail(pos, "expected a key or value, found ':'\(flow ? "" : " (a key is missing)")")
        case DASH where !nextIsSafe:
            throw fail(pos, flow
                ? "expected a value, found '-' \(isBlankOrEnd(pos + 1) ? "followed by whitespace; block sequence entries ('- ') are not allowed inside a flow collection" : "alone; quote it")"
                : "expected a value, found a sequence entry '- '")
        case QUESTION where flow, COLON where flow:
            throw fail(pos, "expected a value, found a plain scalar starting with '\(c == COLON ? ":" : "?")' in a flow collection, which YAML 1.1 readers (PyYAML) read as an indicator; quote the value")
        case TAB: throw tabError(pos)
        default: break
        }
        var i = pos
        var textEnd = pos
        while true {
            let c = at(i)
            if i >= end || c == LF || c == CR { break }
            if c == SPACE {
                var k = i
                while at(k) == SPACE { k += 1 }
                let d = at(k)
                if k >= end || d == LF || d == CR || d == HASH { break }
                if d == TAB { throw tabError(k) }
                i = k
                continue
            }
            if c == TAB { throw tabError(i) }
            if c == COLON {
                let d = at(i + 1)
                if isBlankOrEnd(i + 1) || (flow && isFlowIndicator(d)) { break }
            }
            if flow && isFlowIndicator(c) { break }
            if flow && c == QUESTION {
                throw fail(i, "found '?' inside a plain scalar in a flow collection, which YAML 1.1 readers (PyYAML) read as an indicator; quote the value")
            }
            i += 1
            textEnd = i
        }
        pos = textEnd
        let loc = location(start)
        switch YAMLScalarText.resolvePlain(b[start..<textEnd]) {
        case let .success(value): return PlanNode(value, location: loc)
        case let .failure(problem): throw fail(at: loc, problem.message)
        }
    }

    /// A single- or double-quoted scalar, possibly spanning lines (folded as YAML specifies).
    mutating func parseQuoted(double: Bool, minIndent: Int) throws(PlanError) -> PlanNode {
        let open = here()
        let quote = double ? DQUOTE : SQUOTE
        let what = double ? "double-quoted string" : "single-quoted string"
        var out: [UInt8] = []
        pos += 1
        while true {
            guard pos < end else {
                throw fail(at: open, "expected a closing \(double ? "\"" : "'") for the \(what) that starts here, found the end of the input")
            }
            let c = b[pos]
            if c == quote {
                if !double && at(pos + 1) == SQUOTE {
                    out.append(SQUOTE)
                    pos += 2
                    continue
                }
                pos += 1
                break
            }
            if c == SPACE || c == TAB {
                var k = pos
                while at(k) == SPACE || at(k) == TAB { k += 1 }
                if k < end && isBreak(b[k]) {
                    // Whitespace before a line break is dropped by folding.
                    pos = k
                } else {
                    out.append(contentsOf: b[pos..<k])
                    pos = k
                }
                continue
            }
            if isBreak(c) {
                try fold(into: &out, escaped: false, minIndent: minIndent, open: open, what: what)
                continue
            }
            if double && c == BACKSLASH {
                try escape(into: &out, minIndent: minIndent, open: open)
                continue
            }
            let runStart = pos
            while pos < end {
                let d = b[pos]
                if d == quote || d == SPACE || d == TAB || d == LF || d == CR || (double && d == BACKSLASH) { break }
                pos += 1
            }
            out.append(contentsOf: b[runStart..<pos])
        }
        // A quoted scalar must be separated from what follows.
        let next = at(pos)
        if pos < end && !isBlankOrEnd(pos) && next != COLON && next != COMMA && next != RBRACKET && next != RBRACE {
            throw fail(pos, "expected a space, ',' or the end of the line after the \(what), found \(found(pos))")
        }
        return PlanNode(.string(String(decoding: out, as: UTF8.self)), location: open)
    }

    /// At a line break inside a quoted scalar: a single break becomes a space (nothing after an
    /// escaped break), each blank line a newline; continuation lines lose their leading whitespace
    /// and must be indented at least `minIndent`.
    mutating func fold(into out: inout [UInt8], escaped: Bool, minIndent: Int, open: TextLocation, what: String) throws(PlanError) {
        consumeBreak()
        var blankLines = 0
        while true {
            var p = pos
            while at(p) == SPACE { p += 1 }
            let indent = p - lineStart
            if let marker = documentMarker(lineStart) {
                throw fail(lineStart, "expected the \(what) started at line \(open.line), column \(open.column) to continue, found a document marker '\(marker == DASH ? "---" : "...")'")
            }
            while at(p) == SPACE || at(p) == TAB { p += 1 }
            if p < end && isBreak(b[p]) {
                pos = p
                consumeBreak()
                blankLines += 1
                continue
            }
            if p < end && indent < minIndent {
                if at(lineStart + indent) == TAB { throw tabError(lineStart + indent) }
                throw fail(p, "expected this continuation of the \(what) started at line \(open.line), column \(open.column) to be indented at least \(minIndent) space\(minIndent == 1 ? "" : "s"), found \(indent)")
            }
            pos = p
            break
        }
        if blankLines == 0 {
            if !escaped { out.append(SPACE) }
        } else {
            out.append(contentsOf: repeatElement(LF, count: blankLines))
        }
    }

    mutating func escape(into out: inout [UInt8], minIndent: Int, open: TextLocation) throws(PlanError) {
        let backslash = pos
        let c = at(pos + 1)
        guard pos + 1 < end else {
            throw fail(at: open, "expected a closing \" for the double-quoted string that starts here, found the end of the input")
        }
        var simple: UInt32?
        switch c {
        case 0x30: simple = 0
        case 0x61: simple = 7
        case 0x62: simple = 8
        case 0x74, TAB: simple = 9
        case 0x6E: simple = 10
        case 0x76: simple = 11
        case 0x66: simple = 12
        case 0x72: simple = 13
        case 0x65: simple = 27
        case SPACE: simple = 32
        case DQUOTE: simple = 34
        case 0x2F: simple = 47
        case BACKSLASH: simple = 92
        case 0x4E: simple = 0x85
        case 0x5F: simple = 0xA0
        case 0x4C: simple = 0x2028
        case 0x50: simple = 0x2029
        case LF, CR:
            pos += 1
            try fold(into: &out, escaped: true, minIndent: minIndent, open: open, what: "double-quoted string")
            return
        default: break
        }
        if let simple {
            UTF8Text.append(simple, to: &out)
            pos += 2
            return
        }
        let digits: Int
        switch c {
        case 0x78: digits = 2
        case 0x75: digits = 4
        case 0x55: digits = 8
        default:
            throw fail(backslash, "expected an escape sequence (\\n, \\t, \\\", \\\\, \\xXX, \\uXXXX, …), found '\\' followed by \(found(pos + 1))")
        }
        var scalar: UInt32 = 0
        for k in 0..<digits {
            let d = at(pos + 2 + k)
            let v: UInt32
            switch d {
            case 0x30...0x39: v = UInt32(d - 0x30)
            case 0x41...0x46: v = UInt32(d - 0x41 + 10)
            case 0x61...0x66: v = UInt32(d - 0x61 + 10)
            default:
                throw fail(backslash, "expected \(digits) hexadecimal digits after '\\\(Character(Unicode.Scalar(c)))', found \(found(pos + 2 + k))")
            }
            scalar = scalar << 4 | v
        }
        guard UTF8Text.isScalarValue(scalar) else {
            let text = String(decoding: b[backslash..<(pos + 2 + digits)], as: UTF8.self)
            throw fail(backslash, scalar <= 0xFFFF
                ? "expected a character escape, found \(text), a UTF-16 surrogate; write characters beyond U+FFFF as \\UXXXXXXXX"
                : "expected a character escape, found \(text), beyond U+10FFFF")
        }
        UTF8Text.append(scalar, to: &out)
        pos += 2 + digits
    }
}
