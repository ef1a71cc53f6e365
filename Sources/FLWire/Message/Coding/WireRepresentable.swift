/// A value with its own bytes on the wire, written and read directly rather than through its
/// `Codable` form: the primitives, model layouts, and enumerations sent by case index.
protocol WireRepresentable {
    func write(to writer: inout WireWriter)
    static func read(from reader: inout WireReader, field: String) throws -> Self
}

extension Bool: WireRepresentable {
    func write(to w: inout WireWriter) { w.bool(self) }
    static func read(from r: inout WireReader, field: String) throws -> Bool { try r.bool(field) }
}

extension String: WireRepresentable {
    func write(to w: inout WireWriter) { w.string(self) }
    static func read(from r: inout WireReader, field: String) throws -> String { try r.string(field) }
}

extension Double: WireRepresentable {
    func write(to w: inout WireWriter) { w.f64(self) }
    static func read(from r: inout WireReader, field: String) throws -> Double { try r.f64(field) }
}

extension Float: WireRepresentable {
    func write(to w: inout WireWriter) { w.u32(bitPattern) }
    static func read(from r: inout WireReader, field: String) throws -> Float { Float(bitPattern: try r.u32(field)) }
}

/// Every integer travels in its own width, little-endian (`Int` and `UInt` as 64 bits): the
/// bytes `WireWriter.u16`, `.int` and the others write.
extension WireRepresentable where Self: FixedWidthInteger {
    func write(to w: inout WireWriter) { w.integer(self) }
    static func read(from r: inout WireReader, field: String) throws -> Self { try r.integer(field) }
}


/// A value of fixed size, so a list of them can be read and written in one loop with no
/// per-element dispatch (feature statistics carry a million doubles; a byte payload stays one
/// contiguous array), and its count checked against the bytes left before any space is reserved.
protocol WireFixedSize: WireRepresentable {}

extension Bool: WireFixedSize {}
extension Double: WireFixedSize {}
extension Float: WireFixedSize {}
extension Int: WireFixedSize {}
extension Int8: WireFixedSize {}
extension Int16: WireFixedSize {}
extension Int32: WireFixedSize {}
extension Int64: WireFixedSize {}
extension UInt: WireFixedSize {}
extension UInt8: WireFixedSize {}
extension UInt16: WireFixedSize {}
extension UInt32: WireFixedSize {}
extension UInt64: WireFixedSize {}

/// The same bytes as any other list: a 32-bit count, then the elements.
extension Array: WireRepresentable where Element: WireFixedSize {
    func write(to w: inout WireWriter) { w.list(self) { $1.write(to: &$0) } }
    static func read(from r: inout WireReader, field: String) throws -> [Element] {
        try r.list(field, minimumElementSize: MemoryLayout<Element>.size) { try Element.read(from: &$0, field: field) }
    }
}

/// An enumeration sent as the one-byte index of its case in `allCases`, while its `Codable` form
/// (the Director's saved state) is its name.
protocol WireCaseIndexed: WireRepresentable, CaseIterable, Equatable {}

extension WireCaseIndexed {
    func write(to w: inout WireWriter) { w.u8(UInt8(Array(Self.allCases).firstIndex(of: self)!)) }

    static func read(from r: inout WireReader, field: String) throws -> Self {
        let cases = Array(allCases)
        let code = try r.u8(field)
        guard Int(code) < cases.count else { throw WireDecodingError(context: r.context, field: field, reason: "unknown value \(code)") }
        return cases[Int(code)]
    }
}
