/// Byte-level helpers shared by the YAML and JSON readers, which work on UTF-8 bytes directly so a
/// fuzzer sees every comparison and no input can make them allocate per character.
enum UTF8Text {
    /// Decodes the scalar starting at `i`, or nil if the bytes there are not well-formed UTF-8
    /// (truncated, overlong, a surrogate, or beyond U+10FFFF).
    static func decode(_ b: [UInt8], at i: Int) -> (scalar: UInt32, length: Int)? {
        let n = b.count
        guard i < n else { return nil }
        let b0 = b[i]
        if b0 < 0x80 { return (UInt32(b0), 1) }
        let length: Int
        var scalar: UInt32
        var lower: UInt8 = 0x80, upper: UInt8 = 0xBF
        switch b0 {
        case 0xC2...0xDF: length = 2; scalar = UInt32(b0 & 0x1F)
        case 0xE0: length = 3; scalar = UInt32(b0 & 0x0F); lower = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3; scalar = UInt32(b0 & 0x0F)
        case 0xED: length = 3; scalar = UInt32(b0 & 0x0F); upper = 0x9F
        case 0xF0: length = 4; scalar = UInt32(b0 & 0x07); lower = 0x90
        case 0xF1...0xF3: length = 4; scalar = UInt32(b0 & 0x07)
        case 0xF4: length = 4; scalar = UInt32(b0 & 0x07); upper = 0x8F
        default: return nil
        }
        guard i + length <= n else { return nil }
        for k in 1..<length {
            let c = b[i + k]
            // Only the second byte has the narrowed range that rules out overlongs and surrogates.
            if k == 1 {
                guard c >= lower && c <= upper else { return nil }
            } else {
                guard c >= 0x80 && c <= 0xBF else { return nil }
            }
            scalar = scalar << 6 | UInt32(c & 0x3F)
        }
        return (scalar, length)
    }

    /// Appends the UTF-8 encoding of a valid scalar value.
    static func append(_ scalar: UInt32, to out: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            out.append(UInt8(scalar))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | scalar >> 6))
            out.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | scalar >> 12))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        default:
            out.append(UInt8(0xF0 | scalar >> 18))
            out.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// Whether `scalar` is a Unicode scalar value (not a surrogate, not beyond U+10FFFF).
    static func isScalarValue(_ scalar: UInt32) -> Bool {
        scalar < 0xD800 || (scalar > 0xDFFF && scalar <= 0x10FFFF)
    }

    /// How the character at byte offset `p` of `bytes` is named in an error message.
    static func describe(_ bytes: [UInt8], at p: Int) -> String {
        guard p < bytes.count else { return "the end of the input" }
        guard let (scalar, _) = decode(bytes, at: p) else { return "an invalid UTF-8 byte" }
        return describe(scalar)
    }

    /// How a character is shown in an error message: `'x'`, `a tab`, `U+0007`.
    static func describe(_ scalar: UInt32) -> String {
        switch scalar {
        case 0x09: return "a tab"
        case 0x0A, 0x0D: return "the end of the line"
        case 0x20: return "a space"
        // Spaces, joiners, separators and marks that would be invisible or break the message are named by code point.
        case 0x21...0x7E, 0xA1...0x1FFF, 0x2070...0xD7FF, 0xE000...0xFEFE, 0xFF00...0xFFEF, 0x10000...0x10FFFF:
            return "'\(Character(Unicode.Scalar(scalar)!))'"
        default:
            let hex = String(scalar, radix: 16, uppercase: true)
            return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        }
    }
}
