/// The 512-byte tar header block: field positions, numbers, checksums and PAX records, shared by
/// the writer and the reader. Parsers here compare bytes one by one (no string conversions) so
/// that a fuzzer gets feedback from every comparison.
enum TarHeader {
    static let blockSize = 512

    // Field ranges of a POSIX ustar header.
    static let name = 0..<100
    static let mode = 100..<108
    static let uid = 108..<116
    static let gid = 116..<124
    static let size = 124..<136
    static let mtime = 136..<148
    static let checksum = 148..<156
    static let typeflag = 156
    static let linkname = 157..<257
    static let magic = 257..<263
    static let version = 263..<265
    static let uname = 265..<297
    static let gname = 297..<329
    static let devmajor = 329..<337
    static let devminor = 337..<345
    static let prefix = 345..<500

    /// Largest value `digits` octal digits can hold.
    static func maximumOctal(digits: Int) -> Int64 { (Int64(1) << (3 * Int64(digits))) - 1 }

    /// Bytes needed to pad `size` to a whole number of blocks. `size` must be non-negative.
    static func padding(_ size: Int64) -> Int64 {
        let rest = size % Int64(blockSize)
        return rest == 0 ? 0 : Int64(blockSize) - rest
    }

    // MARK: Checksum

    /// The unsigned and signed sums of the block with the checksum field counted as spaces
    /// (historic writers used signed chars; GNU tar and Python accept both).
    static func checksums(_ block: UnsafeRawBufferPointer) -> (unsigned: Int64, signed: Int64) {
        var unsigned: Int64 = 0
        var signed: Int64 = 0
        for i in 0..<blockSize {
            let byte = checksum.contains(i) ? UInt8(ascii: " ") : block[i]
            unsigned += Int64(byte)
            signed += Int64(Int8(bitPattern: byte))
        }
        return (unsigned, signed)
    }

    /// Fills in the checksum field of a header whose other fields are final: six octal digits, NUL, space.
    static func writeChecksum(_ block: UnsafeMutableRawBufferPointer) {
        let sum = checksums(UnsafeRawBufferPointer(block)).unsigned
        writeOctal(sum, digits: 6, into: block, at: checksum.lowerBound)
        block[checksum.lowerBound + 6] = 0
        block[checksum.lowerBound + 7] = UInt8(ascii: " ")
    }

    // MARK: Numbers

    /// Writes `value` as `digits` zero-padded octal digits (no terminator). The caller checks range.
    static func writeOctal(_ value: Int64, digits: Int, into block: UnsafeMutableRawBufferPointer, at start: Int) {
        var v = value
        for i in stride(from: digits - 1, through: 0, by: -1) {
            block[start + i] = UInt8(ascii: "0") + UInt8(v & 7)
            v >>= 3
        }
    }

    /// Writes a numeric field: octal with a NUL terminator when it fits, else GNU base-256
    /// (0x80 then the big-endian value), which GNU tar, bsdtar and Python all read.
    static func writeNumber(_ value: Int64, field: Range<Int>, into block: UnsafeMutableRawBufferPointer) {
        precondition(value >= 0)
        let digits = field.count - 1
        if value <= maximumOctal(digits: digits) {
            writeOctal(value, digits: digits, into: block, at: field.lowerBound)
            block[field.upperBound - 1] = 0
        } else {
            block[field.lowerBound] = 0x80
            var v = value
            for i in stride(from: field.upperBound - 1, to: field.lowerBound, by: -1) {
                block[i] = UInt8(truncatingIfNeeded: v)
                v >>= 8
            }
        }
    }

    /// Parses a numeric field strictly: optional leading spaces, octal digits, then only NULs or
    /// spaces; or GNU base-256 (first byte 0x80 positive, 0xff negative). An empty field is 0.
    /// Returns nil for anything else, including values that do not fit in an Int64.
    static func parseNumber(_ block: UnsafeRawBufferPointer, _ field: Range<Int>) -> Int64? {
        let first = block[field.lowerBound]
        if first == 0x80 || first == 0xff {
            var value: Int64 = 0
            if first == 0xff { value = -1 }
            for i in (field.lowerBound + 1)..<field.upperBound {
                // Shifting must not lose significant bits: the top 8 bits must be pure sign extension.
                let top = value >> 55
                if top != 0 && top != -1 { return nil }
                value = (value << 8) | Int64(block[i])
            }
            if first == 0x80 && value < 0 { return nil }
            if first == 0xff && value >= 0 { return nil }
            return value
        }
        var i = field.lowerBound
        while i < field.upperBound && block[i] == UInt8(ascii: " ") { i += 1 }
        var value: Int64 = 0
        while i < field.upperBound {
            let byte = block[i]
            if byte < UInt8(ascii: "0") || byte > UInt8(ascii: "7") { break }
            if value > (Int64.max >> 3) { return nil }
            value = (value << 3) | Int64(byte - UInt8(ascii: "0"))
            i += 1
        }
        while i < field.upperBound {
            let byte = block[i]
            if byte != 0 && byte != UInt8(ascii: " ") { return nil }
            i += 1
        }
        return value
    }

    // MARK: Strings

    /// The bytes of a NUL-terminated (or full-width) text field.
    static func string(_ block: UnsafeRawBufferPointer, _ field: Range<Int>) -> [UInt8] {
        var end = field.lowerBound
        while end < field.upperBound && block[end] != 0 { end += 1 }
        return Array(block[field.lowerBound..<end])
    }

    /// Copies `bytes` into a text field; the caller checks that they fit.
    static func writeString(_ bytes: [UInt8], field: Range<Int>, into block: UnsafeMutableRawBufferPointer) {
        precondition(bytes.count <= field.count)
        for (i, byte) in bytes.enumerated() { block[field.lowerBound + i] = byte }
    }

    /// Splits `path` into a ustar (prefix, name) pair, or nil when no split fits: name at most
    /// 100 bytes and non-empty, prefix at most 155, divided at a '/'.
    static func splitForUstar(_ path: [UInt8]) -> (prefix: [UInt8], name: [UInt8])? {
        if path.count <= name.count { return ([], path) }
        if path.count > prefix.count + 1 + name.count { return nil }
        // The shortest prefix that leaves a name of at most 100 bytes.
        var i = path.count - name.count - 1
        while i < path.count - 1 {
            if path[i] == UInt8(ascii: "/") {
                if i > prefix.count || i == 0 { return nil }
                return (Array(path[..<i]), Array(path[(i + 1)...]))
            }
            i += 1
        }
        return nil
    }

    // MARK: PAX records

    /// One `"<length> <key>=<value>\n"` record, where length counts the whole record including its own digits.
    static func paxRecord(key: String, value: [UInt8]) -> [UInt8] {
        let body = Array(" \(key)=".utf8) + value + [UInt8(ascii: "\n")]
        var length = body.count + 1
        while String(length).utf8.count + body.count != length { length = String(length).utf8.count + body.count }
        return Array(String(length).utf8) + body
    }

    /// What a PAX extended header overrides for the entry after it.
    struct PAXOverrides {
        var path: [UInt8]?
        var linkpath: [UInt8]?
        var size: Int64?
        var sparse = false
    }

    /// Parses the records of a PAX `x` header into `overrides`; returns a description of the fault, if any.
    /// Unknown keys (times, ids, SCHILY.*, charset) are ignored; later records win.
    static func parsePAX(_ data: [UInt8], into overrides: inout PAXOverrides) -> String? {
        var i = 0
        let count = data.count
        while i < count {
            // Tolerate NUL padding after the last record.
            if data[i] == 0 {
                var j = i
                while j < count && data[j] == 0 { j += 1 }
                if j == count { return nil }
                return "NUL byte inside the records at byte \(i)"
            }
            var j = i
            var length = 0
            while j < count && data[j] >= UInt8(ascii: "0") && data[j] <= UInt8(ascii: "9") {
                length = length * 10 + Int(data[j] - UInt8(ascii: "0"))
                if length > count { return "record at byte \(i) claims more bytes than the header holds" }
                j += 1
            }
            if j == i || j >= count || data[j] != UInt8(ascii: " ") {
                return "record at byte \(i) does not start with '<length> '"
            }
            let end = i + length
            if end > count { return "record at byte \(i) claims more bytes than the header holds" }
            if end <= j + 2 || data[end - 1] != UInt8(ascii: "\n") {
                return "record at byte \(i) does not end with a newline where its length says"
            }
            var equals = j + 1
            while equals < end - 1 && data[equals] != UInt8(ascii: "=") { equals += 1 }
            if equals == end - 1 || equals == j + 1 { return "record at byte \(i) has no 'key='" }
            let key = data[(j + 1)..<equals]
            let value = Array(data[(equals + 1)..<(end - 1)])
            if bytesEqual(key, "path") {
                overrides.path = value
            } else if bytesEqual(key, "linkpath") {
                overrides.linkpath = value
            } else if bytesEqual(key, "size") {
                guard let size = parseDecimal(value) else { return "size record is not a decimal number" }
                overrides.size = size
            } else if bytesHavePrefix(key, "GNU.sparse.") {
                overrides.sparse = true
            }
            i = end
        }
        return nil
    }

    /// A non-empty string of decimal digits that fits in an Int64.
    static func parseDecimal(_ bytes: [UInt8]) -> Int64? {
        if bytes.isEmpty { return nil }
        var value: Int64 = 0
        for byte in bytes {
            if byte < UInt8(ascii: "0") || byte > UInt8(ascii: "9") { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            value = sum
        }
        return value
    }

    static func bytesEqual(_ bytes: ArraySlice<UInt8>, _ text: StaticString) -> Bool {
        if bytes.count != text.utf8CodeUnitCount { return false }
        let p = text.utf8Start
        var k = 0
        for byte in bytes {
            if byte != p[k] { return false }
            k += 1
        }
        return true
    }

    static func bytesHavePrefix(_ bytes: ArraySlice<UInt8>, _ text: StaticString) -> Bool {
        if bytes.count < text.utf8CodeUnitCount { return false }
        let p = text.utf8Start
        var k = 0
        for byte in bytes.prefix(text.utf8CodeUnitCount) {
            if byte != p[k] { return false }
            k += 1
        }
        return true
    }
}
