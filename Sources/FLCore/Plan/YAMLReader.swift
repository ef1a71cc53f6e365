// ASCII bytes the YAML grammar cares about (only `YAMLReader` uses them).
let SPACE: UInt8 = 0x20, TAB: UInt8 = 0x09, LF: UInt8 = 0x0A, CR: UInt8 = 0x0D
let HASH: UInt8 = 0x23, COLON: UInt8 = 0x3A, DASH: UInt8 = 0x2D, DOT: UInt8 = 0x2E
let SQUOTE: UInt8 = 0x27, DQUOTE: UInt8 = 0x22, BACKSLASH: UInt8 = 0x5C, QUESTION: UInt8 = 0x3F
let LBRACKET: UInt8 = 0x5B, RBRACKET: UInt8 = 0x5D, LBRACE: UInt8 = 0x7B, RBRACE: UInt8 = 0x7D
let COMMA: UInt8 = 0x2C

/// What an inline node was, for key checks and error messages.
enum InlineKind: Equatable {
    case plain, singleQuoted, doubleQuoted, flowSequence, flowMapping

    var isQuoted: Bool { self == .singleQuoted || self == .doubleQuoted }
    var isCollection: Bool { self == .flowSequence || self == .flowMapping }

    var name: String {
        switch self {
        case .plain: "the value"
        case .singleQuoted: "the single-quoted string"
        case .doubleQuoted: "the double-quoted string"
        case .flowSequence: "the flow sequence"
        case .flowMapping: "the flow mapping"
        }
    }
}

/// The parser's state. Positions are byte offsets; every loop advances `pos` or throws, and every
/// recursion goes through a collection that counts `depth`, so any input ends in bounded time.
struct YAMLReader {
    let b: [UInt8]
    let end: Int
    let file: String
    var pos = 0
    var line = 1
    var lineStart = 0
    var depth = 0
    /// Set after a plain scalar ends a line, so an indentation error below it can explain that
    /// multi-line plain scalars are not supported.
    var plainMayContinue = false
    var columns = ColumnCounter()

    init(bytes: [UInt8], file: String) {
        self.b = bytes
        self.end = bytes.count
        self.file = file
    }

    // MARK: Bytes and positions

    /// The byte at `i`, or 0 past the end (NUL never occurs in accepted text, so it is a safe sentinel).
    @inline(__always) func at(_ i: Int) -> UInt8 { i < end && i >= 0 ? b[i] : 0 }
    @inline(__always) func isBreak(_ c: UInt8) -> Bool { c == LF || c == CR }
    @inline(__always) func isBreakOrEnd(_ i: Int) -> Bool { i >= end || b[i] == LF || b[i] == CR }
    @inline(__always) func isBlankOrEnd(_ i: Int) -> Bool {
        i >= end || b[i] == SPACE || b[i] == TAB || b[i] == LF || b[i] == CR
    }
    @inline(__always) func isFlowIndicator(_ c: UInt8) -> Bool {
        c == COMMA || c == LBRACKET || c == RBRACKET || c == LBRACE || c == RBRACE
    }

    /// A `- ` (or `-` at the end of a line) that opens a block sequence entry.
    func isBlockEntry(_ i: Int) -> Bool { at(i) == DASH && isBlankOrEnd(i + 1) }

    /// `---` or `...` at the start of a line, followed by whitespace or the end of the line.
    func documentMarker(_ i: Int) -> UInt8? {
        guard i == lineStart, i + 2 < end else { return nil }
        let c = b[i]
        guard (c == DASH || c == DOT), b[i + 1] == c, b[i + 2] == c, isBlankOrEnd(i + 3) else { return nil }
        return c
    }

    mutating func consumeBreak() {
        if at(pos) == CR && at(pos + 1) == LF { pos += 2 } else { pos += 1 }
        line += 1
        lineStart = pos
    }

    /// The location of byte offset `p`, which must be on the current line.
    mutating func location(_ p: Int) -> TextLocation {
        guard p >= lineStart else { return slowLocation(p) }
        return TextLocation(file: file, line: line, column: columns.column(of: p, line: line, lineStart: lineStart, in: b))
    }

    mutating func here() -> TextLocation { location(pos) }

    /// Location of any offset, counting from the start (used only for errors).
    func slowLocation(_ p: Int) -> TextLocation {
        var ln = 1, start = 0, i = 0
        if end >= 3, b[0] == 0xEF, b[1] == 0xBB, b[2] == 0xBF { i = 3; start = 3 }
        let stop = min(max(p, 0), end)
        while i < stop {
            if b[i] == LF || (b[i] == CR && at(i + 1) != LF) {
                ln += 1
                start = i + 1
            }
            i += 1
        }
        var column = 1
        for k in start..<stop where b[k] & 0xC0 != 0x80 { column += 1 }
        return TextLocation(file: file, line: ln, column: column)
    }

    /// How the character at `p` is named in an error message.
    func found(_ p: Int) -> String { UTF8Text.describe(b, at: p) }

    mutating func fail(_ p: Int, _ message: String) -> PlanError {
        PlanError(.syntax, at: location(p), message)
    }

    func fail(at loc: TextLocation, _ message: String) -> PlanError {
        PlanError(.syntax, at: loc, message)
    }

    mutating func tabError(_ p: Int) -> PlanError {
        let inIndent = p >= lineStart && (lineStart..<p).allSatisfy { b[$0] == SPACE }
        return fail(p, inIndent
            ? "expected spaces for indentation, found a tab (YAML does not allow tabs in indentation)"
            : "expected a space, found a tab (tabs are allowed only inside quoted strings and comments)")
    }

    // MARK: Checking the text

    /// One pass over the bytes before parsing: valid UTF-8, printable characters only, and none
    /// that YAML 1.1 and 1.2 read differently. The parser can then treat every byte >= 0x80 as content.
    mutating func checkText() throws(PlanError) {
        var i = 0
        if end >= 3, b[0] == 0xEF, b[1] == 0xBB, b[2] == 0xBF { i = 3 }
        pos = i
        lineStart = i
        var ln = 1, start = i
        func here(_ p: Int) -> TextLocation {
            var column = 1
            for k in start..<p where b[k] & 0xC0 != 0x80 { column += 1 }
            return TextLocation(file: file, line: ln, column: column)
        }
        while i < end {
            let c = b[i]
            if c < 0x80 {
                if c == LF {
                    ln += 1
                    start = i + 1
                } else if c == CR {
                    if at(i + 1) == LF { i += 1 }
                    ln += 1
                    start = i + 1
                } else if c != TAB && (c < 0x20 || c == 0x7F) {
                    throw PlanError(.syntax, at: here(i), "expected printable text, found the control character \(UTF8Text.describe(UInt32(c))); write it as an escape in a double-quoted string")
                }
                i += 1
                continue
            }
            guard let (scalar, length) = UTF8Text.decode(b, at: i) else {
                let hex = String(c, radix: 16, uppercase: true)
                throw PlanError(.syntax, at: here(i), "expected UTF-8 text, found the invalid byte 0x\(hex.count == 1 ? "0" : "")\(hex)")
            }
            switch scalar {
            case 0x85, 0x2028, 0x2029:
                throw PlanError(.syntax, at: here(i), "found \(UTF8Text.describe(scalar)), a line break in YAML 1.1 but not in YAML 1.2; write it as an escape (\\N, \\L, \\P) in a double-quoted string")
            case 0xFEFF:
                throw PlanError(.syntax, at: here(i), "found a byte order mark (U+FEFF) inside the text; it is allowed only as the very first character")
            case 0x80...0x9F, 0xFFFE, 0xFFFF:
                throw PlanError(.syntax, at: here(i), "expected printable text, found the non-printable character \(UTF8Text.describe(scalar)); write it as an escape in a double-quoted string")
            default:
                break
            }
            i += length
        }
    }

    // MARK: Lines, comments, blank lines

    /// From the start of a line, skips blank and comment-only lines and stops at the first content
    /// character (or the end). Rejects tabs in indentation and document markers.
    mutating func skipEmptyLines(markersAllowed: Bool = false) throws(PlanError) {
        while true {
            var p = pos
            while at(p) == SPACE { p += 1 }
            if p >= end { pos = p; return }
            let c = b[p]
            if c == TAB { throw tabError(p) }
            if c == HASH {
                while !isBreakOrEnd(p) { p += 1 }
                pos = p
                if p >= end { return }
                consumeBreak()
                continue
            }
            if isBreak(c) {
                pos = p
                consumeBreak()
                continue
            }
            pos = p
            if !markersAllowed, let marker = documentMarker(p) { throw markerError(marker, p) }
            return
        }
    }

    mutating func markerError(_ marker: UInt8, _ p: Int) -> PlanError {
        marker == DASH
            ? fail(p, "found '---', the start of a second document; a plan is a single YAML document")
            : fail(p, "found '...', a document end marker, which plans do not support; remove it")
    }

    /// Ends the current line after a value: optional spaces, an optional comment, the line break.
    /// Returns whether there was a comment.
    @discardableResult
    mutating func finishLine(after what: String) throws(PlanError) -> Bool {
        while at(pos) == SPACE { pos += 1 }
        if pos >= end { return false }
        let c = b[pos]
        if c == TAB { throw tabError(pos) }
        var comment = false
        if c == HASH {
            guard pos == lineStart || b[pos - 1] == SPACE else {
                throw fail(pos, "expected a space before '#' (a comment starts only after whitespace), found '#' right after \(what)")
            }
            comment = true
            while !isBreakOrEnd(pos) { pos += 1 }
        }
        if pos >= end { return comment }
        guard isBreak(b[pos]) else {
            throw fail(pos, "expected the end of the line after \(what), found \(found(pos))")
        }
        consumeBreak()
        return comment
    }

    mutating func skipSpaces() throws(PlanError) {
        while at(pos) == SPACE { pos += 1 }
        if at(pos) == TAB && pos < end { throw tabError(pos) }
    }

    func plainHint() -> String {
        plainMayContinue ? " (a plain scalar cannot continue on the next line: put multi-line text in quotes)" : ""
    }
}
