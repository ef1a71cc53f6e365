/// Reads the fields written by `WireWriter`, checking every length against the bytes that remain
/// before trusting it, so a hostile message can neither crash the reader nor make it allocate more
/// than the message's own size.
public struct WireReader {
    private let bytes: [UInt8]
    public private(set) var offset: Int = 0
    /// Name of the message being decoded, for error messages.
    public let context: String

    public init(_ bytes: [UInt8], context: String) {
        self.bytes = bytes
        self.context = context
    }

    public var remaining: Int { bytes.count - offset }

    private mutating func take(_ n: Int, _ field: String) throws -> Int {
        guard n >= 0, n <= remaining else { throw WireDecodingError(context: context, field: field, reason: "needs \(n) bytes, \(remaining) left") }
        let start = offset
        offset += n
        return start
    }

    public mutating func u8(_ field: String) throws -> UInt8 { bytes[try take(1, field)] }

    public mutating func bool(_ field: String) throws -> Bool {
        switch try u8(field) {
        case 0: return false
        case 1: return true
        case let v: throw WireDecodingError(context: context, field: field, reason: "boolean byte is \(v)")
        }
    }

    public mutating func u16(_ field: String) throws -> UInt16 { try integer(field) }

    public mutating func u32(_ field: String) throws -> UInt32 { try integer(field) }

    public mutating func u64(_ field: String) throws -> UInt64 { try integer(field) }

    /// Any fixed-width integer in its own width, little-endian.
    mutating func integer<T: FixedWidthInteger>(_ field: String) throws -> T {
        let s = try take(MemoryLayout<T>.size, field)
        var v = T.zero
        for i in 0..<MemoryLayout<T>.size { v |= T(truncatingIfNeeded: bytes[s + i]) << (8 * i) }
        return v
    }

    public mutating func i64(_ field: String) throws -> Int64 { Int64(bitPattern: try u64(field)) }
    public mutating func int(_ field: String) throws -> Int { Int(try i64(field)) }
    public mutating func f64(_ field: String) throws -> Double { Double(bitPattern: try u64(field)) }

    /// A non-negative integer no larger than `limit`.
    public mutating func count(_ field: String, limit: Int) throws -> Int {
        let v = try i64(field)
        guard v >= 0, v <= Int64(limit) else { throw WireDecodingError(context: context, field: field, reason: "\(v) is outside 0...\(limit)") }
        return Int(v)
    }

    public mutating func string(_ field: String) throws -> String {
        let n = Int(try u32(field))
        let s = try take(n, field)
        guard let text = String(validating: bytes[s..<(s + n)], as: UTF8.self) else {
            throw WireDecodingError(context: context, field: field, reason: "not valid UTF-8")
        }
        return text
    }

    /// A list whose every element takes at least `minimumElementSize` bytes, so the count is checked
    /// against the bytes left before any element is read or space reserved.
    public mutating func list<T>(_ field: String, minimumElementSize: Int = 1, _ read: (inout WireReader) throws -> T) throws -> [T] {
        let n = Int(try u32(field))
        guard n <= remaining / max(1, minimumElementSize) else {
            throw WireDecodingError(context: context, field: field, reason: "claims \(n) elements, only \(remaining) bytes left")
        }
        var out: [T] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try read(&self)) }
        return out
    }

    /// Ends decoding; trailing bytes are an error because they mean the peer speaks another version.
    public func finish() throws {
        guard remaining == 0 else { throw WireDecodingError(context: context, field: "end", reason: "\(remaining) unexpected trailing bytes") }
    }
}
