/// Appends the fields of a control message in SwiftFL's binary encoding: fixed-width little-endian
/// integers, IEEE doubles, and length-prefixed UTF-8 strings and lists. Control messages are small;
/// tensor data never goes through this type.
public struct WireWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func bool(_ v: Bool) { bytes.append(v ? 1 : 0) }
    public mutating func u16(_ v: UInt16) { integer(v) }
    public mutating func u32(_ v: UInt32) { integer(v) }
    public mutating func u64(_ v: UInt64) { integer(v) }
    public mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    /// An `Int` as a signed 64-bit value.
    public mutating func int(_ v: Int) { i64(Int64(v)) }
    public mutating func f64(_ v: Double) { u64(v.bitPattern) }

    /// Any fixed-width integer in its own width, little-endian.
    mutating func integer<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }

    /// Replaces the 32-bit value at `offset`: a list's count, written before its elements were known.
    mutating func overwriteU32(_ v: UInt32, at offset: Int) {
        withUnsafeBytes(of: v.littleEndian) { bytes.replaceSubrange(offset..<(offset + 4), with: $0) }
    }

    public mutating func string(_ v: String) {
        let utf8 = v.utf8
        u32(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    public mutating func list<T>(_ items: [T], _ write: (inout WireWriter, T) -> Void) {
        u32(UInt32(items.count))
        for item in items { write(&self, item) }
    }

}
