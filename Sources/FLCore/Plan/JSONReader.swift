extension PlanNode {
    /// Reads a JSON text (RFC 8259) into a node with locations: numbers without a fraction or
    /// exponent become `.int` (an error if they do not fit 64 bits), others `.float`; duplicate
    /// keys and nesting deeper than `YAMLParser.maxDepth` are errors.
    ///
    /// - Parameter allowNonFiniteNumbers: also accept `NaN`, `Infinity` and `-Infinity`, as Python's
    ///   `json.dumps` writes them.
    public static func parseJSON(_ bytes: some Collection<UInt8>, file: String = "<json>",
                                 allowNonFiniteNumbers: Bool = false) throws(PlanError) -> PlanNode {
        var reader = JSONReader(b: Array(bytes), file: file, allowNonFinite: allowNonFiniteNumbers)
        return try reader.parseDocument()
    }
}

private struct JSONReader {
    let b: [UInt8]
    let file: String
    let allowNonFinite: Bool
    var pos = 0
    var line = 1
    var lineStart = 0
    var depth = 0

    init(b: [UInt8], file: String, allowNonFinite: Bool) {
        self.b = b
        self.file = file
        self.allowNonFinite = allowNonFinite
    }

    func at(_ i: Int) -> UInt8 { i < b.count ? b[i] : 0 }

    var columns = ColumnCounter()

    mutating func location(_ p: Int) -> TextLocation {
        TextLocation(file: file, line: line, column: columns.column(of: p, line: line, lineStart: lineStart, in: b))
    }

    mutating func fail(_ p: Int, _ message: String) -> PlanError {
        PlanError(.syntax, at: location(p), message)
    }

    func found(_ p: Int) -> String { UTF8Text.describe(b, at: p) }

    mutating func skipWhitespace() {
        while pos < b.count {
            switch b[pos] {
            case 0x20, 0x09, 0x0D: pos += 1
            case 0x0A:
                pos += 1
                line += 1
                lineStart = pos
            default: return
            }
        }
    }

    mutating func parseDocument() throws(PlanError) -> PlanNode {
        if b.count >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
            pos = 3
            lineStart = 3
        }
        skipWhitespace()
        let node = try parseValue()
        skipWhitespace()
        guard pos == b.count else { throw fail(pos, "expected the end of the JSON text, found \(found(pos))") }
        return node
    }

    mutating func literal(_ word: String) -> Bool {
        let u = Array(word.utf8)
        guard pos + u.count <= b.count, b[pos..<(pos + u.count)].elementsEqual(u) else { return false }
        pos += u.count
        return true
    }

    mutating func parseValue() throws(PlanError) -> PlanNode {
        let loc = location(pos)
        switch at(pos) {
        case 0x7B: return try parseObject(loc)
        case 0x5B: return try parseArray(loc)
        case 0x22: return PlanNode(.string(try parseString()), location: loc)
        case 0x74 where literal("true"): return PlanNode(.bool(true), location: loc)
        case 0x66 where literal("false"): return PlanNode(.bool(false), location: loc)
        case 0x6E where literal("null"): return PlanNode(.null, location: loc)
        case 0x4E where allowNonFinite && literal("NaN"): return PlanNode(.float(.nan), location: loc)
        case 0x49 where allowNonFinite && literal("Infinity"): return PlanNode(.float(.infinity), location: loc)
        case 0x2D where allowNonFinite && literal("-Infinity"): return PlanNode(.float(-.infinity), location: loc)
        case 0x2D, 0x30...0x39: return PlanNode(try parseNumber(), location: loc)
        default: throw fail(pos, "expected a JSON value, found \(found(pos))")
        }
    }

    mutating func enter() throws(PlanError) {
        depth += 1
        if depth > YAMLParser.maxDepth {
            throw fail(pos, "expected at most \(YAMLParser.maxDepth) levels of nesting, found more")
        }
    }

    mutating func parseObject(_ loc: TextLocation) throws(PlanError) -> PlanNode {
        try enter()
        defer { depth -= 1 }
        pos += 1
        var mapping = PlanMapping()
        skipWhitespace()
        if at(pos) == 0x7D {
            pos += 1
            return PlanNode(.mapping(mapping), location: loc)
        }
        while true {
            skipWhitespace()
            guard at(pos) == 0x22 else { throw fail(pos, "expected a string key, found \(found(pos))") }
            let keyLoc = location(pos)
            let key = try parseString()
            skipWhitespace()
            guard at(pos) == 0x3A else { throw fail(pos, "expected ':' after the key, found \(found(pos))") }
            pos += 1
            skipWhitespace()
            let value = try parseValue()
            if mapping.contains(key) {
                throw PlanError(.syntax, at: keyLoc, "duplicate key \(JSONWriter.quoted(key))")
            }
            mapping.updateValue(value, forKey: key, keyLocation: keyLoc)
            skipWhitespace()
            if at(pos) == 0x2C {
                pos += 1
                continue
            }
            guard at(pos) == 0x7D else { throw fail(pos, "expected ',' or '}', found \(found(pos))") }
            pos += 1
            return PlanNode(.mapping(mapping), location: loc)
        }
    }

    mutating func parseArray(_ loc: TextLocation) throws(PlanError) -> PlanNode {
        try enter()
        defer { depth -= 1 }
        pos += 1
        var items: [PlanNode] = []
        skipWhitespace()
        if at(pos) == 0x5D {
            pos += 1
            return PlanNode(.sequence(items), location: loc)
        }
        while true {
            skipWhitespace()
            items.append(try parseValue())
            skipWhitespace()
            if at(pos) == 0x2C {
                pos += 1
                continue
            }
            guard at(pos) == 0x5D else { throw fail(pos, "expected ',' or ']', found \(found(pos))") }
            pos += 1
            return PlanNode(.sequence(items), location: loc)
        }
    }

    mutating func hex4(_ p: Int) throws(PlanError) -> UInt32 {
        var v: UInt32 = 0
        for k in 0..<4 {
            let d = at(p + k)
            let digit: UInt32
            switch d {
            case 0x30...0x39: digit = UInt32(d - 0x30)
            case 0x41...0x46: digit = UInt32(d - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(d - 0x61 + 10)
            default: throw fail(p + k, "expected 4 hexadecimal digits after '\\u', found \(found(p + k))")
            }
            v = v << 4 | digit
        }
        return v
    }

    mutating func parseString() throws(PlanError) -> String {
        let open = pos
        pos += 1
        var out: [UInt8] = []
        while true {
            guard pos < b.count else { throw fail(open, "expected a closing '\"' for the string that starts here, found the end of the input") }
            let c = b[pos]
            if c == 0x22 {
                pos += 1
                return String(decoding: out, as: UTF8.self)
            }
            if c < 0x20 { throw fail(pos, "expected a string character, found the control character \(UTF8Text.describe(UInt32(c))) (escape it)") }
            if c == 0x5C {
                let e = at(pos + 1)
                switch e {
                case 0x22, 0x5C, 0x2F: out.append(e)
                case 0x62: out.append(0x08)
                case 0x66: out.append(0x0C)
                case 0x6E: out.append(0x0A)
                case 0x72: out.append(0x0D)
                case 0x74: out.append(0x09)
                case 0x75:
                    var scalar = try hex4(pos + 2)
                    var length = 6
                    if scalar >= 0xD800 && scalar <= 0xDBFF {
                        guard at(pos + 6) == 0x5C, at(pos + 7) == 0x75 else {
                            throw fail(pos, "expected a low surrogate escape after the high surrogate, found \(found(pos + 6))")
                        }
                        let low = try hex4(pos + 8)
                        guard low >= 0xDC00 && low <= 0xDFFF else {
                            throw fail(pos + 6, "expected a low surrogate (\\uDC00–\\uDFFF) after the high surrogate")
                        }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        length = 12
                    } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                        throw fail(pos, "expected a character escape, found a lone low surrogate")
                    }
                    UTF8Text.append(scalar, to: &out)
                    pos += length
                    continue
                default:
                    throw fail(pos, "expected an escape sequence (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX), found '\\' followed by \(found(pos + 1))")
                }
                pos += 2
                continue
            }
            guard let (_, length) = UTF8Text.decode(b, at: pos) else {
                throw fail(pos, "expected UTF-8 text, found an invalid byte")
            }
            out.append(contentsOf: b[pos..<(pos + length)])
            pos += length
        }
    }

    mutating func parseNumber() throws(PlanError) -> PlanValue {
        let start = pos
        func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        if at(pos) == 0x2D { pos += 1 }
        if at(pos) == 0x30 {
            pos += 1
        } else if isDigit(at(pos)) {
            while isDigit(at(pos)) { pos += 1 }
        } else {
            throw fail(pos, "expected a digit, found \(found(pos))")
        }
        var isInteger = true
        if at(pos) == 0x2E {
            isInteger = false
            pos += 1
            guard isDigit(at(pos)) else { throw fail(pos, "expected a digit after '.', found \(found(pos))") }
            while isDigit(at(pos)) { pos += 1 }
        }
        if at(pos) == 0x65 || at(pos) == 0x45 {
            isInteger = false
            pos += 1
            if at(pos) == 0x2B || at(pos) == 0x2D { pos += 1 }
            guard isDigit(at(pos)) else { throw fail(pos, "expected a digit in the exponent, found \(found(pos))") }
            while isDigit(at(pos)) { pos += 1 }
        }
        let text = String(decoding: b[start..<pos], as: UTF8.self)
        if isInteger {
            guard let value = Int(text) else { throw fail(start, "expected an integer that fits 64 bits, found \(text)") }
            return .int(value)
        }
        guard let value = Double(text), value.isFinite else {
            throw fail(start, "expected a number that fits a 64-bit float, found \(text)")
        }
        return .float(value)
    }
}
