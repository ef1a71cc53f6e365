/// Reads what `WireEncoder` writes, through `WireReader`, so every length is checked against the
/// bytes left before it is trusted. Errors are `WireDecodingError`s naming the message (the
/// reader's context) and the field by its path (`experiments[0].status`); a decoded value that
/// conforms to `WireChecked` is checked at once, and its refusal names the field the same way.
final class WireDecoder: Decoder {
    var reader: WireReader
    /// Where decoding is, outermost first; `codingPath` and error fields are made from it.
    private var path: [any CodingKey] = []
    var codingPath: [any CodingKey] { path }
    let userInfo: [CodingUserInfoKey: Any] = [:]

    private init(_ reader: WireReader) { self.reader = reader }

    /// Reads one `T` from `reader`, leaving it after the value.
    static func decode<T: Decodable>(_ type: T.Type, from reader: inout WireReader) throws -> T {
        let decoder = WireDecoder(reader)
        defer { reader = decoder.reader }
        return try decoder.decodeValue(type)
    }

    /// The current path as errors show it: `experiment.rounds[2].round`.
    var field: String {
        path.reduce(into: "") { text, key in
            if let index = key.intValue, key.stringValue.isEmpty || key is IndexKey {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
    }

    func error(_ reason: String) -> WireDecodingError { WireDecodingError(context: reader.context, field: field, reason: reason) }

    /// Runs a read of `reader` given the field "" (or ".sub"): the path's text is built only when the
    /// read throws, not for every field read.
    func located<R>(_ read: () throws -> R) throws -> R {
        do { return try read() } catch var error as WireDecodingError {
            error.field = field + error.field
            throw error
        }
    }

    /// One value at `key` (nil: at the current path).
    func decodeValue<T: Decodable>(_ type: T.Type, at key: (any CodingKey)? = nil) throws -> T {
        if let key { path.append(key) }
        defer { if key != nil { path.removeLast() } }
        if let representable = T.self as? any WireRepresentable.Type {
            return try located { try representable.read(from: &reader, field: "") as! T }
        } else if let optional = T.self as? any WireOptional.Type {
            return try optional.decodeTagged(from: self) as! T
        } else if let map = T.self as? any WireStringKeyed.Type {
            return try map.decodeSorted(from: self) as! T
        }
        let value: T
        do {
            value = try T(from: self)
        } catch let error as DecodingError {
            // An enumeration's raw value that names no case, from `RawRepresentable`'s decoding.
            guard case .dataCorrupted(let context) = error else { throw self.error("\(error)") }
            throw self.error(context.debugDescription)
        }
        if let checked = value as? any WireChecked {
            do { try checked.check() } catch {
                throw WireDecodingError(context: reader.context, field: field.isEmpty ? error.field : "\(field).\(error.field)", reason: error.reason)
            }
        }
        return value
    }

    /// The tag of an optional: whether it is nil (tag 0) or a value follows (tag 1).
    func decodeNilTag() throws -> Bool {
        switch try located({ try reader.u8("") }) {
        case 0: return true
        case 1: return false
        case let tag: throw error("optional tag is \(tag)")
        }
    }

    /// A list's count, checked against the bytes left (every element takes at least one).
    func decodeCount() throws -> Int {
        let n = Int(try located { try reader.u32("") })
        guard n <= reader.remaining else { throw error("claims \(n) elements, only \(reader.remaining) bytes left") }
        return n
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(KeyedContainer(decoder: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { try UnkeyedContainer(decoder: self) }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { SingleValueContainer(decoder: self) }

    /// The position in a list, for error fields.
    struct IndexKey: CodingKey {
        let intValue: Int?
        var stringValue: String { "\(intValue ?? 0)" }
        init(_ index: Int) { intValue = index }
        init?(stringValue: String) { nil }
        init?(intValue: Int) { self.intValue = intValue }
    }

    /// Fields in the order they were written; every key is present, since nothing is left out, up
    /// to the end of the payload. A message that grew fields at its end reads them only
    /// `if contains(key)`: an older peer's shorter payload has no bytes left there (its fields then
    /// keep their defaults), which is how a message is extended without breaking older senders.
    struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let decoder: WireDecoder
        var codingPath: [any CodingKey] { decoder.codingPath }
        var allKeys: [Key] { [] }

        func contains(_ key: Key) -> Bool { decoder.reader.remaining > 0 }
        func decodeNil(forKey key: Key) throws -> Bool {
            decoder.path.append(key)
            defer { decoder.path.removeLast() }
            return try decoder.decodeNilTag()
        }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try decoder.decodeValue(type, at: key) }
        // Synthesized code reads optionals through these; spelled out so that they read the tag
        // whatever the standard library's defaults do.
        func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? { try decoder.decodeValue(T?.self, at: key) }
        func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try decoder.decodeValue(type, at: key) }
        func decode(_ type: String.Type, forKey key: Key) throws -> String { try decoder.decodeValue(type, at: key) }
        func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try decoder.decodeValue(type, at: key) }
        func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try decoder.decodeValue(type, at: key) }
        func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try decoder.decodeValue(type, at: key) }
        func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try decoder.decodeValue(type, at: key) }
        func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try decoder.decodeValue(type, at: key) }
        func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try decoder.decodeValue(type, at: key) }
        func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try decoder.decodeValue(type, at: key) }
        func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try decoder.decodeValue(type, at: key) }
        func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try decoder.decodeValue(type, at: key) }
        func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try decoder.decodeValue(type, at: key) }
        func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try decoder.decodeValue(type, at: key) }
        func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try decoder.decodeValue(type, at: key) }
        func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { try decoder.decodeValue(Bool?.self, at: key) }
        func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { try decoder.decodeValue(String?.self, at: key) }
        func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { try decoder.decodeValue(Double?.self, at: key) }
        func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? { try decoder.decodeValue(Float?.self, at: key) }
        func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try decoder.decodeValue(Int?.self, at: key) }
        func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try decoder.decodeValue(Int8?.self, at: key) }
        func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try decoder.decodeValue(Int16?.self, at: key) }
        func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try decoder.decodeValue(Int32?.self, at: key) }
        func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try decoder.decodeValue(Int64?.self, at: key) }
        func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try decoder.decodeValue(UInt?.self, at: key) }
        func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try decoder.decodeValue(UInt8?.self, at: key) }
        func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { try decoder.decodeValue(UInt16?.self, at: key) }
        func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { try decoder.decodeValue(UInt32?.self, at: key) }
        func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try decoder.decodeValue(UInt64?.self, at: key) }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            try decoder.container(keyedBy: type)
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { try decoder.unkeyedContainer() }
        func superDecoder() throws -> any Decoder { decoder }
        func superDecoder(forKey key: Key) throws -> any Decoder { decoder }
    }

    /// A list: its count read (and checked) first.
    struct UnkeyedContainer: UnkeyedDecodingContainer {
        let decoder: WireDecoder
        let count: Int?
        private(set) var currentIndex = 0
        var codingPath: [any CodingKey] { decoder.codingPath }
        var isAtEnd: Bool { currentIndex >= count! }

        init(decoder: WireDecoder) throws {
            self.decoder = decoder
            count = try decoder.decodeCount()
        }

        /// The key of the next element, which must exist.
        private func nextKey() throws -> IndexKey {
            guard !isAtEnd else { throw decoder.error("has no element \(currentIndex)") }
            return IndexKey(currentIndex)
        }

        private mutating func next<T: Decodable>(_ type: T.Type) throws -> T {
            let value = try decoder.decodeValue(type, at: try nextKey())
            currentIndex += 1
            return value
        }

        /// Reads the tag of an optional element; the element is used up only when it is nil, since
        /// otherwise its value still follows.
        mutating func decodeNil() throws -> Bool {
            decoder.path.append(try nextKey())
            defer { decoder.path.removeLast() }
            let isNil = try decoder.decodeNilTag()
            if isNil { currentIndex += 1 }
            return isNil
        }
        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next(type) }
        mutating func decode(_ type: Bool.Type) throws -> Bool { try next(type) }
        mutating func decode(_ type: String.Type) throws -> String { try next(type) }
        mutating func decode(_ type: Double.Type) throws -> Double { try next(type) }
        mutating func decode(_ type: Float.Type) throws -> Float { try next(type) }
        mutating func decode(_ type: Int.Type) throws -> Int { try next(type) }
        mutating func decode(_ type: Int8.Type) throws -> Int8 { try next(type) }
        mutating func decode(_ type: Int16.Type) throws -> Int16 { try next(type) }
        mutating func decode(_ type: Int32.Type) throws -> Int32 { try next(type) }
        mutating func decode(_ type: Int64.Type) throws -> Int64 { try next(type) }
        mutating func decode(_ type: UInt.Type) throws -> UInt { try next(type) }
        mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next(type) }
        mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next(type) }
        mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next(type) }
        mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next(type) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
            _ = try nextKey()
            currentIndex += 1
            return try decoder.container(keyedBy: type)
        }
        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
            _ = try nextKey()
            currentIndex += 1
            return try decoder.unkeyedContainer()
        }
        mutating func superDecoder() throws -> any Decoder { decoder }
    }

    struct SingleValueContainer: SingleValueDecodingContainer {
        let decoder: WireDecoder
        var codingPath: [any CodingKey] { decoder.codingPath }
        func decodeNil() -> Bool { false }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decodeValue(type) }
        func decode(_ type: Bool.Type) throws -> Bool { try decoder.decodeValue(type) }
        func decode(_ type: String.Type) throws -> String { try decoder.decodeValue(type) }
        func decode(_ type: Double.Type) throws -> Double { try decoder.decodeValue(type) }
        func decode(_ type: Float.Type) throws -> Float { try decoder.decodeValue(type) }
        func decode(_ type: Int.Type) throws -> Int { try decoder.decodeValue(type) }
        func decode(_ type: Int8.Type) throws -> Int8 { try decoder.decodeValue(type) }
        func decode(_ type: Int16.Type) throws -> Int16 { try decoder.decodeValue(type) }
        func decode(_ type: Int32.Type) throws -> Int32 { try decoder.decodeValue(type) }
        func decode(_ type: Int64.Type) throws -> Int64 { try decoder.decodeValue(type) }
        func decode(_ type: UInt.Type) throws -> UInt { try decoder.decodeValue(type) }
        func decode(_ type: UInt8.Type) throws -> UInt8 { try decoder.decodeValue(type) }
        func decode(_ type: UInt16.Type) throws -> UInt16 { try decoder.decodeValue(type) }
        func decode(_ type: UInt32.Type) throws -> UInt32 { try decoder.decodeValue(type) }
        func decode(_ type: UInt64.Type) throws -> UInt64 { try decoder.decodeValue(type) }
    }
}
