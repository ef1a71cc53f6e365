/// An optional, seen without its wrapped type: a 0/1 tag, then the value when there is one.
protocol WireOptional {
    func encodeTagged(to encoder: WireEncoder) throws
    static func decodeTagged(from decoder: WireDecoder) throws -> Self
}

// The wrapped value is Codable whenever the coders meet an optional (it is a field of a Codable
// value), so the casts below cannot fail.
extension Optional: WireOptional {
    func encodeTagged(to encoder: WireEncoder) throws {
        guard let value = self else { return encoder.writer.u8(0) }
        encoder.writer.u8(1)
        let encodable = value as! any Encodable
        try encoder.encodeValue(encodable)
    }

    static func decodeTagged(from decoder: WireDecoder) throws -> Wrapped? {
        guard try !decoder.decodeNilTag() else { return nil }
        let type = Wrapped.self as! any Decodable.Type
        return .some(try decoder.decodeValue(type) as! Wrapped)
    }
}

/// A map with string keys: a count, then each key and its value, sorted by key so equal maps encode
/// to equal bytes; a key that repeats is refused.
protocol WireStringKeyed {
    func encodeSorted(to encoder: WireEncoder) throws
    static func decodeSorted(from decoder: WireDecoder) throws -> Self
}

extension Dictionary: WireStringKeyed where Key == String, Value: Codable {
    func encodeSorted(to encoder: WireEncoder) throws {
        encoder.writer.u32(UInt32(count))
        for key in keys.sorted() {
            encoder.writer.string(key)
            try encoder.encodeValue(self[key]!)
        }
    }

    static func decodeSorted(from decoder: WireDecoder) throws -> [String: Value] {
        let n = try decoder.decodeCount()
        var map: [String: Value] = [:]
        for _ in 0..<n {
            let key = try decoder.located { try decoder.reader.string("") }
            let value = try decoder.decodeValue(Value.self)
            guard map.updateValue(value, forKey: key) == nil else { throw decoder.error("key '\(key)' repeats") }
        }
        return map
    }
}
