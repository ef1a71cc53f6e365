/// Writes any `Encodable` value in SwiftFL's binary wire format, so a message lists its fields once
/// (as stored properties, in wire order) and `Codable` derives both directions from that list.
///
/// The format is positional: keys are never written, fields follow in declaration order. A value
/// maps to `WireWriter` primitives: `Int` → signed 64-bit, `Double` → IEEE 64-bit, `String` →
/// length-prefixed UTF-8, arrays → 32-bit count then the elements, optionals → a 0/1 tag then the
/// value, `[String: V]` → count then key/value pairs sorted by key (equal maps encode to equal bytes).
/// Values that conform to `WireRepresentable` write their own bytes (model layouts, case-indexed
/// enumerations). `WireDecoder` reads the same format.
final class WireEncoder: Encoder {
    var writer: WireWriter
    let codingPath: [any CodingKey] = []
    let userInfo: [CodingUserInfoKey: Any] = [:]

    private init(_ writer: WireWriter) { self.writer = writer }

    /// Appends `value` to `writer`.
    static func encode<T: Encodable>(_ value: T, into writer: inout WireWriter) {
        let encoder = WireEncoder(writer)
        writer = WireWriter(capacity: 0)  // hand over the buffer so appending does not copy it
        do {
            try encoder.encodeValue(value)
        } catch {
            // Nothing this encoder writes can fail; a throwing `encode(to:)` is a programming error.
            preconditionFailure("\(T.self) cannot be written to the wire: \(error)")
        }
        writer = encoder.writer
    }

    /// One value: primitives, layouts and case-indexed enumerations through their own wire form,
    /// optionals and string-keyed maps as the format says, anything else through its `encode(to:)`.
    func encodeValue<T: Encodable>(_ value: T) throws {
        // Optionals first: a cast would unwrap `.some` and lose the tag.
        if T.self is any WireOptional.Type {
            try (value as! any WireOptional).encodeTagged(to: self)
        } else if let v = value as? any WireRepresentable {
            v.write(to: &writer)
        } else if let v = value as? any WireStringKeyed {
            try v.encodeSorted(to: self)
        } else {
            try value.encode(to: self)
        }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(KeyedContainer(encoder: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer { UnkeyedContainer(encoder: self) }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleValueContainer(encoder: self) }

    /// Fields one after the other; keys are not written.
    struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let encoder: WireEncoder
        var codingPath: [any CodingKey] { [] }

        mutating func encodeNil(forKey key: Key) throws { encoder.writer.u8(0) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: String, forKey key: Key) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: Double, forKey key: Key) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: Float, forKey key: Key) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: Int, forKey key: Key) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: Int8, forKey key: Key) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: Int16, forKey key: Key) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: Int32, forKey key: Key) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: UInt, forKey key: Key) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: UInt8, forKey key: Key) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: UInt16, forKey key: Key) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: UInt32, forKey key: Key) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws { try encoder.encodeValue(value) }
        // Synthesized code writes optionals through these: the default would leave out a nil, and
        // the wire needs its tag either way.
        mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws { try value.encodeTagged(to: encoder) }
        mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { try value.encodeTagged(to: encoder) }
        mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { try value.encodeTagged(to: encoder) }
        mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { try value.encodeTagged(to: encoder) }
        mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws { try value.encodeTagged(to: encoder) }
        mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { try value.encodeTagged(to: encoder) }
        mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws { try value.encodeTagged(to: encoder) }
        mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws { try value.encodeTagged(to: encoder) }
        mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { try value.encodeTagged(to: encoder) }
        mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { try value.encodeTagged(to: encoder) }
        mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws { try value.encodeTagged(to: encoder) }
        mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws { try value.encodeTagged(to: encoder) }
        mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws { try value.encodeTagged(to: encoder) }
        mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws { try value.encodeTagged(to: encoder) }
        mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { try value.encodeTagged(to: encoder) }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            encoder.container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer { encoder.unkeyedContainer() }
        mutating func superEncoder() -> any Encoder { encoder }
        mutating func superEncoder(forKey key: Key) -> any Encoder { encoder }
    }

    /// A 32-bit count, then the elements; the count is written first and raised with every element,
    /// because `Encodable` never says when a list ends.
    struct UnkeyedContainer: UnkeyedEncodingContainer {
        let encoder: WireEncoder
        private let countOffset: Int
        private(set) var count = 0
        var codingPath: [any CodingKey] { [] }

        init(encoder: WireEncoder) {
            self.encoder = encoder
            countOffset = encoder.writer.bytes.count
            encoder.writer.u32(0)
        }

        /// Counts the element just written.
        private mutating func counted() {
            count += 1
            encoder.writer.overwriteU32(UInt32(count), at: countOffset)
        }

        mutating func encodeNil() throws {
            encoder.writer.u8(0)
            counted()
        }
        mutating func encode<T: Encodable>(_ value: T) throws {
            try encoder.encodeValue(value)
            counted()
        }
        mutating func encode(_ value: Bool) throws {
            try encoder.encodeValue(value)
            counted()
        }
        mutating func encode(_ value: String) throws {
            try encoder.encodeValue(value)
            counted()
        }
        mutating func encode(_ value: Double) throws {
            try encoder.encodeValue(value)
            counted()
        }
        mutating func encode(_ value: Float) throws {
            try encoder.encodeValue(value)
            counted()
        }
        mutating func encode(_ value: Int) throws {
            try encoder.encodeValue(value)
            counted()
        }
        mutating func encode(_ value: Int8) throws {
            try encoder.encodeValue(value)
            counted()
        }
        mutating func encode(_ value: Int16) throws {
            try encoder.encodeValue(value)
            counted()
        }
        mutating func encode(_ value: Int32) throws {
            try encoder.encodeValue(value)
            counted()
        }
        mutating func encode(_ value: Int64) throws {
            try encoder.encodeValue(value)
            counted()
        }
        mutating func encode(_ value: UInt) throws {
            try encoder.encodeValue(value)
            counted()
        }
        mutating func encode(_ value: UInt8) throws {
            try encoder.encodeValue(value)
            counted()
        }
        mutating func encode(_ value: UInt16) throws {
            try encoder.encodeValue(value)
            counted()
        }
        mutating func encode(_ value: UInt32) throws {
            try encoder.encodeValue(value)
            counted()
        }
        mutating func encode(_ value: UInt64) throws {
            try encoder.encodeValue(value)
            counted()
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            counted()
            return encoder.container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            counted()
            return encoder.unkeyedContainer()
        }
        mutating func superEncoder() -> any Encoder { encoder }
    }

    struct SingleValueContainer: SingleValueEncodingContainer {
        let encoder: WireEncoder
        var codingPath: [any CodingKey] { [] }
        mutating func encodeNil() throws { encoder.writer.u8(0) }
        mutating func encode<T: Encodable>(_ value: T) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: Bool) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: String) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: Double) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: Float) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: Int) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: Int8) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: Int16) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: Int32) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: Int64) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: UInt) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: UInt8) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: UInt16) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: UInt32) throws { try encoder.encodeValue(value) }
        mutating func encode(_ value: UInt64) throws { try encoder.encodeValue(value) }
    }
}
