/// Scalar text in both directions: resolving a plain scalar by the YAML 1.2 core schema (refusing
/// the ones YAML 1.1 readers such as PyYAML resolve differently), and writing a value as text that
/// resolves back to it.
enum YAMLScalarText {
    struct Problem: Error {
        let message: String
    }

    /// The types a plain scalar can resolve to, under either schema.
    enum Kind: Equatable {
        case null, bool, int, float, string
        /// YAML 1.1 only: `<<`, `=`, dates and timestamps.
        case merge, value, timestamp

        var name: String {
            switch self {
            case .null: "null"
            case .bool: "a boolean"
            case .int: "an integer"
            case .float: "a float"
            case .string: "a string"
            case .merge: "a merge key"
            case .value: "a value key"
            case .timestamp: "a date or timestamp"
            }
        }
    }

    // MARK: Resolving

    static func resolvePlain(_ text: ArraySlice<UInt8>) -> Result<PlanValue, Problem> {
        // Most scalars start with a character no special form starts with: they are strings to both schemas.
        guard let first = text.first else { return .success(.null) }
        if !mayStartSpecialForm(first) { return .success(.string(String(decoding: text, as: UTF8.self))) }
        let s = Array(text)
        var shown: String { "'" + String(decoding: s, as: UTF8.self) + "'" }
        if isYAML11Bool(s) {
            return .failure(Problem(message: "\(shown) is a boolean in YAML 1.1 (PyYAML, which OpenFL uses) but a string in YAML 1.2; write true or false, or quote it for the string"))
        }
        let core = coreKind(s)
        let yaml11 = yaml11Kind(s)
        switch yaml11 {
        case .merge:
            return .failure(Problem(message: "\(shown) is a merge key in YAML 1.1, which plans do not support; write the entries out, or quote it for the string"))
        case .value:
            return .failure(Problem(message: "\(shown) has a special meaning in YAML 1.1; quote it for the string"))
        case .timestamp:
            return .failure(Problem(message: "\(shown) is a date or timestamp in YAML 1.1 (PyYAML) but a string in YAML 1.2; quote it"))
        default:
            break
        }
        if core != yaml11 {
            if core == .string {
                return .failure(Problem(message: "\(shown) is \(yaml11.name) in YAML 1.1 (PyYAML) but a string in YAML 1.2; quote it for the string, or write the number in plain decimal (no '_', no '0b' or leading '0', no ':')"))
            }
            return .failure(Problem(message: "\(shown) is \(core.name) in YAML 1.2 but \(yaml11.name) in YAML 1.1 (PyYAML); quote it for the string, or write the number so both agree (decimal integers; floats with a '.' and a signed exponent, like 1.0e+3 or -0.5)"))
        }
        switch core {
        case .null:
            return .success(.null)
        case .bool:
            return .success(.bool(s[0] == 0x74 || s[0] == 0x54))
        case .int:
            if hasLeadingZero(s) {
                return .failure(Problem(message: "\(shown) has a leading zero: YAML 1.1 (PyYAML) reads it as octal, YAML 1.2 as decimal; write it without the leading zero, or quote it for the string"))
            }
            guard let value = integerValue(s) else {
                return .failure(Problem(message: "\(shown) is an integer too large for 64 bits; quote it for the string"))
            }
            return .success(.int(value))
        case .float:
            let value = floatValue(s)
            guard let value, value.isFinite || isSpecialFloat(s) else {
                return .failure(Problem(message: "\(shown) is a float too large for 64 bits; quote it for the string"))
            }
            return .success(.float(value))
        default:
            return .success(.string(String(decoding: s, as: UTF8.self)))
        }
    }

    /// Whether a scalar starting with `c` can be anything but a string under either schema.
    static func mayStartSpecialForm(_ c: UInt8) -> Bool {
        switch c {
        case 0x30...0x39, 0x2B, 0x2D, 0x2E, 0x7E, 0x3C, 0x3D: true  // digits + - . ~ < =
        case 0x6E, 0x4E, 0x74, 0x54, 0x66, 0x46, 0x79, 0x59, 0x6F, 0x4F: true  // n t f y o, either case
        default: false
        }
    }

    private static func words(_ list: [String]) -> [[UInt8]] { list.map { Array($0.utf8) } }
    static let yaml11BoolWordsAnyCase = words(["yes", "no", "on", "off", "y", "n"])
    static let nullWords = words(["~", "null", "Null", "NULL"])
    static let coreBoolWords = words(["true", "True", "TRUE", "false", "False", "FALSE"])
    static let yaml11BoolWords = words(["yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
                                        "on", "On", "ON", "off", "Off", "OFF"])
    static let specialFloatWords = words([".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
                                          ".nan", ".NaN", ".NAN"])

    /// `yes no on off y n` in any case: booleans in YAML 1.1, strings in 1.2.
    static func isYAML11Bool(_ s: [UInt8]) -> Bool {
        guard s.count <= 3 else { return false }
        let lower = s.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }
        return yaml11BoolWordsAnyCase.contains(lower)
    }

    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    @inline(__always) static func isHex(_ c: UInt8) -> Bool {
        isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
    }
    @inline(__always) static func isSign(_ c: UInt8) -> Bool { c == 0x2B || c == 0x2D }

    static func equals(_ s: [UInt8], _ literal: String) -> Bool { s.count == literal.utf8.count && s.elementsEqual(literal.utf8) }

    /// The YAML 1.2 core schema's tag resolution.
    static func coreKind(_ s: [UInt8]) -> Kind {
        if s.isEmpty { return .null }
        if nullWords.contains(s) { return .null }
        if coreBoolWords.contains(s) { return .bool }
        // [-+]?[0-9]+
        var i = isSign(s[0]) ? 1 : 0
        if i < s.count && s[i...].allSatisfy(isDigit) { return .int }
        // 0o[0-7]+ and 0x[0-9a-fA-F]+
        if s.count > 2 && s[0] == 0x30 {
            if s[1] == 0x6F && s[2...].allSatisfy({ $0 >= 0x30 && $0 <= 0x37 }) { return .int }
            if s[1] == 0x78 && s[2...].allSatisfy(isHex) { return .int }
        }
        if isSpecialFloat(s) { return .float }
        // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
        i = isSign(s[0]) ? 1 : 0
        let intStart = i
        while i < s.count && isDigit(s[i]) { i += 1 }
        let intDigits = i - intStart
        var fracDigits = 0
        var dot = false
        if i < s.count && s[i] == 0x2E {
            dot = true
            i += 1
            let fracStart = i
            while i < s.count && isDigit(s[i]) { i += 1 }
            fracDigits = i - fracStart
        }
        guard intDigits > 0 || (dot && fracDigits > 0) else { return .string }
        if i < s.count && (s[i] == 0x65 || s[i] == 0x45) {
            i += 1
            if i < s.count && isSign(s[i]) { i += 1 }
            let expStart = i
            while i < s.count && isDigit(s[i]) { i += 1 }
            guard i > expStart else { return .string }
        }
        return i == s.count ? .float : .string
    }

    /// `[-+]?.inf` and `.nan` in the spellings both schemas share.
    static func isSpecialFloat(_ s: [UInt8]) -> Bool {
        s.count >= 4 && s.count <= 5 && specialFloatWords.contains(s)
    }

    /// PyYAML's implicit resolvers (YAML 1.1), transcribed from its regular expressions.
    static func yaml11Kind(_ s: [UInt8]) -> Kind {
        if s.isEmpty { return .null }
        if yaml11BoolWords.contains(s) { return .bool }
        if isYAML11Float(s) { return .float }
        if isYAML11Int(s) { return .int }
        if equals(s, "<<") { return .merge }
        if nullWords.contains(s) { return .null }
        if isYAML11Timestamp(s) { return .timestamp }
        if equals(s, "=") { return .value }
        return .string
    }

    /// Consumes `(:[0-5]?[0-9])+` from `i`, stopping before `terminator` or the end; returns the new index.
    static func sexagesimalGroups(_ s: [UInt8], from start: Int, until terminator: UInt8?) -> Int? {
        var i = start
        var groups = 0
        while i < s.count && s[i] == 0x3A {
            i += 1
            let digitsStart = i
            while i < s.count && isDigit(s[i]) { i += 1 }
            let n = i - digitsStart
            guard n == 1 || (n == 2 && s[digitsStart] <= 0x35) else { return nil }
            groups += 1
        }
        guard groups > 0 else { return nil }
        if let terminator { return i < s.count && s[i] == terminator ? i : nil }
        return i == s.count ? i : nil
    }

    /// `[-+]?0b[0-1_]+ | [-+]?0[0-7_]+ | [-+]?(?:0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+ |
    /// [-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+`
    static func isYAML11Int(_ s: [UInt8]) -> Bool {
        let r = Array(s.dropFirst(isSign(s[0]) ? 1 : 0))
        guard let first = r.first else { return false }
        let us: UInt8 = 0x5F
        if r.count > 2 && first == 0x30 && r[1] == 0x62 { return r[2...].allSatisfy { $0 == 0x30 || $0 == 0x31 || $0 == us } }
        if r.count > 2 && first == 0x30 && r[1] == 0x78 { return r[2...].allSatisfy { isHex($0) || $0 == us } }
        if first == 0x30 {
            return r.count == 1 || r[1...].allSatisfy { ($0 >= 0x30 && $0 <= 0x37) || $0 == us }
        }
        guard first >= 0x31 && first <= 0x39 else { return false }
        var i = 1
        while i < r.count && (isDigit(r[i]) || r[i] == us) { i += 1 }
        if i == r.count { return true }
        return sexagesimalGroups(r, from: i, until: nil) != nil
    }

    /// `[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)? | \.[0-9][0-9_]*(?:[eE][-+][0-9]+)? |
    /// [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]* | [-+]?\.(?:inf|Inf|INF) | \.(?:nan|NaN|NAN)`
    static func isYAML11Float(_ s: [UInt8]) -> Bool {
        if isSpecialFloat(s) { return true }
        let us: UInt8 = 0x5F
        func digitsOrUnderscores(_ i: inout Int) { while i < s.count && (isDigit(s[i]) || s[i] == us) { i += 1 } }
        func exponentThenEnd(_ i: Int) -> Bool {
            if i == s.count { return true }
            guard s[i] == 0x65 || s[i] == 0x45, i + 1 < s.count, isSign(s[i + 1]) else { return false }
            var k = i + 2
            let start = k
            while k < s.count && isDigit(s[k]) { k += 1 }
            return k > start && k == s.count
        }
        if s[0] == 0x2E {
            var i = 1
            guard i < s.count && isDigit(s[i]) else { return false }
            digitsOrUnderscores(&i)
            return exponentThenEnd(i)
        }
        var i = isSign(s[0]) ? 1 : 0
        guard i < s.count && isDigit(s[i]) else { return false }
        digitsOrUnderscores(&i)
        if i < s.count && s[i] == 0x2E {
            i += 1
            digitsOrUnderscores(&i)
            return exponentThenEnd(i)
        }
        guard var k = sexagesimalGroups(s, from: i, until: 0x2E) else { return false }
        k += 1
        digitsOrUnderscores(&k)
        return k == s.count
    }

    /// `[0-9]{4}-[0-9]{2}-[0-9]{2}`, or a date with 1–2 digit month and day followed by a time of day
    /// (`T`, `t` or spaces, `h:mm:ss`, optional fraction, optional zone).
    static func isYAML11Timestamp(_ s: [UInt8]) -> Bool {
        var i = 0
        func digits(_ min: Int, _ max: Int) -> Bool {
            let start = i
            while i < s.count && isDigit(s[i]) { i += 1 }
            return i - start >= min && i - start <= max
        }
        func byte(_ c: UInt8) -> Bool {
            guard i < s.count && s[i] == c else { return false }
            i += 1
            return true
        }
        guard digits(4, 4), byte(0x2D), digits(1, 2) else { return false }
        let monthTwoDigits = i == 7
        guard byte(0x2D), digits(1, 2) else { return false }
        if i == s.count { return monthTwoDigits && i == 10 }
        if i < s.count && (s[i] == 0x54 || s[i] == 0x74) {
            i += 1
        } else {
            let start = i
            while i < s.count && (s[i] == 0x20 || s[i] == 0x09) { i += 1 }
            guard i > start else { return false }
        }
        guard digits(1, 2), byte(0x3A), digits(2, 2), byte(0x3A), digits(2, 2) else { return false }
        if byte(0x2E) { _ = digits(0, Int.max) }
        if i == s.count { return true }
        while i < s.count && (s[i] == 0x20 || s[i] == 0x09) { i += 1 }
        if byte(0x5A) { return i == s.count }
        guard i < s.count && isSign(s[i]) else { return false }
        i += 1
        guard digits(1, 2) else { return false }
        if i == s.count { return true }
        guard byte(0x3A), digits(2, 2) else { return false }
        return i == s.count
    }

    /// A decimal integer written with a superfluous leading zero (`017`, `-00`), which YAML 1.1 reads as octal.
    static func hasLeadingZero(_ s: [UInt8]) -> Bool {
        let i = isSign(s[0]) ? 1 : 0
        return s.count > i + 1 && s[i] == 0x30 && isDigit(s[i + 1])
    }

    static func integerValue(_ s: [UInt8]) -> Int? {
        if s.count > 2 && s[0] == 0x30 && s[1] == 0x78 {
            var value = 0
            for c in s[2...] {
                let digit = isDigit(c) ? Int(c - 0x30) : Int((c | 0x20) - 0x61 + 10)
                let (shifted, o1) = value.multipliedReportingOverflow(by: 16)
                let (sum, o2) = shifted.addingReportingOverflow(digit)
                if o1 || o2 { return nil }
                value = sum
            }
            return value
        }
        let negative = s[0] == 0x2D
        // Accumulate negatively so Int.min, whose magnitude has no positive Int, parses too.
        var value = 0
        for c in s.dropFirst(isSign(s[0]) ? 1 : 0) {
            let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = shifted.subtractingReportingOverflow(Int(c - 0x30))
            if o1 || o2 { return nil }
            value = sum
        }
        if negative { return value }
        let (positive, overflow) = (0).subtractingReportingOverflow(value)
        return overflow ? nil : positive
    }

    static func floatValue(_ s: [UInt8]) -> Double? {
        if isSpecialFloat(s) {
            if s[s.count - 1] == 0x6E || s[s.count - 1] == 0x4E { return .nan }
            return s[0] == 0x2D ? -.infinity : .infinity
        }
        return Double(String(decoding: s, as: UTF8.self))
    }

    // MARK: Writing

    /// A float as YAML text both schemas read back to the same double: shortest round-trip digits,
    /// always with a `.` and a signed exponent; `.nan`, `.inf`, `-.inf` for the non-finite values.
    static func float(_ d: Double) -> String {
        if d.isNaN { return ".nan" }
        if d.isInfinite { return d < 0 ? "-.inf" : ".inf" }
        let text = d.description
        guard let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) else {
            return text.contains(".") ? text : text + ".0"
        }
        var mantissa = String(text[..<e])
        var exponent = String(text[text.index(after: e)...])
        if !mantissa.contains(".") { mantissa += ".0" }
        if !exponent.hasPrefix("-") && !exponent.hasPrefix("+") { exponent = "+" + exponent }
        return mantissa + "e" + exponent
    }

    /// Whether `s` can be written as a plain scalar in block context and read back as this string.
    static func isPlainSafe(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard let first = u.first, let last = u.last else { return false }
        guard first != 0x20, last != 0x20, last != 0x3A else { return false }
        // Indicators cannot start a plain scalar (`-`, `?`, `:` sometimes can; quoting them is simpler).
        if "-?:,[]{}#&*!|>'\"%@`".utf8.contains(first) { return false }
        if u.starts(with: "...".utf8) { return false }
        for (i, c) in u.enumerated() {
            if c < 0x20 || c == 0x7F { return false }
            if c == 0x20 && i + 1 < u.count && u[i + 1] == 0x23 { return false }
            if c == 0x3A && i + 1 < u.count && u[i + 1] == 0x20 { return false }
        }
        for scalar in s.unicodeScalars where !isPrintableUnescaped(scalar.value) { return false }
        guard case let .success(value) = resolvePlain(u[...]), case let .string(back) = value else { return false }
        return back == s
    }

    /// Characters written as themselves inside quotes; everything else is escaped.
    static func isPrintableUnescaped(_ v: UInt32) -> Bool {
        switch v {
        case 0x2028, 0x2029: false  // line breaks to YAML 1.1 readers
        case 0x20...0x7E, 0xA0...0xD7FF, 0xE000...0xFEFE, 0xFF00...0xFFFD, 0x10000...0x10FFFF: true
        default: false
        }
    }

    /// `s` in double quotes with YAML escapes for quotes, backslashes and every non-printable character.
    static func doubleQuoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            let v = scalar.value
            switch v {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x00: out += "\\0"
            case 0x07: out += "\\a"
            case 0x08: out += "\\b"
            case 0x09: out += "\\t"
            case 0x0A: out += "\\n"
            case 0x0B: out += "\\v"
            case 0x0C: out += "\\f"
            case 0x0D: out += "\\r"
            case 0x1B: out += "\\e"
            case 0x85: out += "\\N"
            case 0x2028: out += "\\L"
            case 0x2029: out += "\\P"
            default:
                if isPrintableUnescaped(v) {
                    out.unicodeScalars.append(scalar)
                } else if v <= 0xFF {
                    out += "\\x" + hex(v, width: 2)
                } else {
                    out += "\\u" + hex(v, width: 4)
                }
            }
        }
        return out + "\""
    }

    static func hex(_ v: UInt32, width: Int) -> String {
        let digits = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// A string as YAML: plain when that reads back as the same string, double-quoted otherwise.
    static func string(_ s: String) -> String { isPlainSafe(s) ? s : doubleQuoted(s) }
}
