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

extension Int: WireRepresentable {}
extension Int8: WireRepresentable {}
extension Int16: WireRepresentable {}
extension Int32: WireRepresentable {}
extension Int64: WireRepresentable {}
extension UInt: WireRepresentable {}
extension UInt8: WireRepresentable {}
extension UInt16: WireRepresentable {}
extension UInt32: WireRepresentable {}
extension UInt64: WireRepresentable {}

/// Lists of doubles (feature statistics: up to a million) go through in one loop, with no
/// per-element dispatch; the bytes are those of any other list.
extension Array: WireRepresentable where Element == Double {
    func write(to w: inout WireWriter) { w.list(self) { $0.f64($1) } }
    static func read(from r: inout WireReader, field: String) throws -> [Double] {
        try r.list(field, minimumElementSize: 8) { try $0.f64(field) }
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
