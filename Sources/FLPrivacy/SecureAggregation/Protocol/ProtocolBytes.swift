/// A little byte writer for the bindings: strings with a 32-bit length before them, integers as
/// fixed-width big-endian words.
package struct ProtocolBytes {
    package private(set) var bytes: [UInt8] = []

    package init() {}

    package mutating func append(_ string: String) {
        let utf8 = Array(string.utf8)
        append(UInt32(utf8.count))
        bytes += utf8
    }

    package mutating func append(_ raw: [UInt8]) {
        append(UInt32(raw.count))
        bytes += raw
    }

    package mutating func append(_ value: Int64) {
        append(UInt64(bitPattern: value))
    }

    package mutating func append<Word: FixedWidthInteger & UnsignedInteger>(_ value: Word) {
        for shift in stride(from: Word.bitWidth - 8, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> shift)) }
    }
}
