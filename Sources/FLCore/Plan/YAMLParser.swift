/// Reads plan files: a strict subset of YAML 1.2 that every YAML reader, including PyYAML (the
/// YAML 1.1 reader OpenFL uses), reads to the same value. Whatever falls outside the subset is an
/// error naming `file:line:column`, never a guess. docs/plan-format.md is the full description.
///
/// Supported:
/// - One document, optionally opened by a `---` line; an empty document is null.
/// - Block mappings (`key: value`) and block sequences (`- item`), nested by indentation with
///   spaces; a sequence may sit at the same indentation as its mapping key; sequence items may be
///   compact mappings (`- name: a`) or compact sequences (`- - a`).
/// - Flow sequences `[a, b]` and flow mappings `{k: v, k2}` (nested, trailing comma allowed,
///   spanning lines if continuation lines are indented more than the enclosing block; a closing
///   bracket may sit at the enclosing block's indentation).
/// - Plain scalars on one line; single-quoted (`''` is a quote) and double-quoted scalars (all
///   YAML escapes: `\0 \a \b \t \n \v \f \r \e \  \" \/ \\ \N \_ \L \P \xXX \uXXXX \UXXXXXXXX`,
///   and escaped line breaks), which may span lines with YAML's line folding.
/// - Comments: `#` at the start of a line or after a space.
/// - Plain scalars resolve by the YAML 1.2 core schema: null (`~ null Null NULL` and empty),
///   bool (`true True TRUE false False FALSE`), int (`[-+]?[0-9]+`, `0x[0-9a-fA-F]+`, 64-bit),
///   float (`[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, `[-+]?.inf`, `.nan`, any case
///   variant the schema lists); anything else is a string. Quoted scalars are always strings.
///
/// Rejected, with a message saying what to write instead:
/// - anchors `&`, aliases `*`, tags `!`, directives `%`, block scalars `|` `>`, complex keys `? `,
///   `key: value` pairs directly inside `[ ]`, document end `...`, a second document;
/// - tabs outside quoted scalars and comments; inconsistent indentation; multi-line plain scalars;
/// - duplicate keys, keys that are not strings (`1:`, `null:`, `[a]:`), keys spanning lines or
///   longer than 1024 characters;
/// - unterminated quotes and brackets, content after a closed flow collection or quoted scalar;
/// - plain scalars a YAML 1.1 reader reads differently: `yes no on off y n` in any case, `<<`, `=`,
///   integers with a leading zero (`017`), `0o17`, `0b101`, `1_000`, `1:30`, `+0x1F`, dates and
///   timestamps, floats without a `.` or with an unsigned exponent (`1e3`, `1.5e3`), `+.5`;
/// - invalid UTF-8, non-printable characters, NEL/U+2028/U+2029 (line breaks in YAML 1.1 only),
///   a byte order mark other than at the very start;
/// - nesting deeper than `YAMLParser.maxDepth`.
public enum YAMLParser {
    /// Collections nested deeper than this are refused, so no input can exhaust the stack.
    public static let maxDepth = 64
    /// Longest implicit key, in characters, as YAML specifies.
    public static let maxKeyLength = 1024

    /// Parses `text`; locations in the result and in errors name `file`.
    public static func parse(text: String, file: String) throws(PlanError) -> PlanNode {
        try parse(bytes: Array(text.utf8), file: file)
    }

    /// Parses UTF-8 bytes (the fuzzing entry point): returns or throws for every input, never traps.
    public static func parse(bytes: some Collection<UInt8>, file: String) throws(PlanError) -> PlanNode {
        var parser = YAMLReader(bytes: Array(bytes), file: file)
        return try parser.parseDocument()
    }
}

// ASCII bytes the grammar cares about.
private let SPACE: UInt8 = 0x20, TAB: UInt8 = 0x09, LF: UInt8 = 0x0A, CR: UInt8 = 0x0D
private let HASH: UInt8 = 0x23, COLON: UInt8 = 0x3A, DASH: UInt8 = 0x2D, DOT: UInt8 = 0x2E
private let SQUOTE: UInt8 = 0x27, DQUOTE: UInt8 = 0x22, BACKSLASH: UInt8 = 0x5C, QUESTION: UInt8 = 0x3F
private let LBRACKET: UInt8 = 0x5B, RBRACKET: UInt8 = 0x5D, LBRACE: UInt8 = 0x7B, RBRACE: UInt8 = 0x7D
private let COMMA: UInt8 = 0x2C

/// What an inline node was, for key checks and error messages.
private enum InlineKind: Equatable {
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
private struct YAMLReader {
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
    // The last computed column on the current line; locations are asked for in increasing order,
    // so counting from here keeps column computation linear even on one very long line.
    var cacheLine = 0, cachePos = 0, cacheColumn = 1

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
        var i = lineStart, column = 1
        if cacheLine == line, cachePos >= lineStart, cachePos <= p {
            i = cachePos
            column = cacheColumn
        }
        let stop = min(p, end)
        while i < stop {
            if b[i] & 0xC0 != 0x80 { column += 1 }
            i += 1
        }
        cacheLine = line
        cachePos = stop
        cacheColumn = column
        return TextLocation(file: file, line: line, column: column)
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
    func found(_ p: Int) -> String {
        guard p < end else { return "the end of the input" }
        guard let (scalar, _) = UTF8Text.decode(b, at: p) else { return "an invalid byte" }
        return UTF8Text.describe(scalar)
    }

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

    // MARK: Document and block structure

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

    // MARK: Inline nodes: flow collections and scalars

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
