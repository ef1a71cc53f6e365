import FLCore

// A model layout on the wire: each tensor's name, dtype and shape (in that order), checked as
// `ModelLayout` checks any layout.
extension WireWriter {
    /// A model layout: each tensor's name, dtype and shape.
    public mutating func layout(_ layout: ModelLayout) {
        list(layout.tensors) { w, spec in
            w.string(spec.name)
            w.string(spec.dtype.rawValue)
            w.list(spec.shape) { $0.int($1) }
        }
    }
}

extension WireReader {
    public mutating func layout(_ field: String) throws -> ModelLayout {
        let specs = try list(field, minimumElementSize: 12) { r -> TensorSpec in
            let name = try r.string("\(field).name")
            let dtypeName = try r.string("\(field).dtype")
            guard let dtype = DType(rawValue: dtypeName) else {
                throw WireDecodingError(context: r.context, field: field, reason: "unknown dtype '\(dtypeName)'")
            }
            let shape = try r.list("\(field).shape", minimumElementSize: 8) { try $0.count("\(field).shape", limit: ModelLayout.maximumCount) }
            return TensorSpec(name: name, shape: shape, dtype: dtype)
        }
        do { return try ModelLayout(specs) } catch { throw WireDecodingError(context: context, field: field, reason: "\(error)") }
    }
}

extension ModelLayout: WireRepresentable {
    func write(to w: inout WireWriter) { w.layout(self) }
    static func read(from r: inout WireReader, field: String) throws -> ModelLayout { try r.layout(field) }
}

/// Messages that carry a layout are `Codable`, so a layout is too: its tensors, checked again when
/// read. On the wire its own encoding above is used instead.
extension ModelLayout: Codable {
    public init(from decoder: any Decoder) throws {
        let tensors = try decoder.singleValueContainer().decode([TensorSpec].self)
        do { try self.init(tensors) } catch {
            throw DecodingError.dataCorrupted(DecodingError.Context(codingPath: decoder.codingPath, debugDescription: "\(error)"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(tensors)
    }
}
