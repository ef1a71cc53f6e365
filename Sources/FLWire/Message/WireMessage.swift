import FLCore

/// A typed control message: small, binary-encoded, one per frame.
///
/// A message lists its fields once, as its stored properties in wire order; `Codable` derives its
/// encoding and decoding from that list through `WireEncoder` and `WireDecoder` (see there for the
/// format). Limits beyond the fields' types are the message's `WireChecked.check()`.
public protocol WireMessage: Codable, Sendable {
    /// The frame type that carries this message.
    static var type: MessageType { get }
}

extension WireMessage {
    /// Appends the message's payload to `writer`.
    public func encode(to writer: inout WireWriter) { WireEncoder.encode(self, into: &writer) }

    /// Reads one message from `reader`, leaving it after the message.
    public init(from reader: inout WireReader) throws { self = try WireDecoder.decode(Self.self, from: &reader) }

    /// The message's encoded payload.
    public func encoded() -> [UInt8] {
        var w = WireWriter()
        encode(to: &w)
        return w.bytes
    }

    /// Decodes one message from a whole payload; trailing bytes are an error.
    public static func decode(_ payload: [UInt8]) throws -> Self {
        var r = WireReader(payload, context: String(describing: Self.self))
        let m = try Self(from: &r)
        try r.finish()
        return m
    }
}

/// The frame type of a control message or of a tensor chunk.
public struct MessageType: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// Raw tensor bytes belonging to the stream announced by the message with the same id.
    public static let chunk = MessageType(rawValue: 0x0001)

    public var description: String {
        if self == .chunk { return "chunk" }
        return MessageRegistry.types[rawValue].map { String(describing: $0) } ?? "type 0x\(String(rawValue, radix: 16))"
    }
}

/// Every control message SwiftFL speaks, by frame type, for decoding what arrives.
public enum MessageRegistry {
    static let all: [any WireMessage.Type] = [
        ErrorReply.self, OkReply.self, Ping.self,
        CollaboratorHello.self, AggregatorWelcome.self, TaskRequest.self, TaskReply.self,
        ModelRequest.self, ModelReply.self, TaskResultMessage.self,
        // New messages go last: the fuzz corpus picks a message type by its index here.
    ] + directorMessages + [FeatureStatisticsReport.self] + analyticsMessages + secureAggregationMessages

    static let types: [UInt16: any WireMessage.Type] = {
        var t: [UInt16: any WireMessage.Type] = [:]
        for m in all {
            precondition(t[m.type.rawValue] == nil, "two messages share frame type \(m.type.rawValue)")
            t[m.type.rawValue] = m
        }
        return t
    }()

    /// Decodes a control message of frame type `type` from its payload.
    public static func decode(type: UInt16, payload: [UInt8]) throws -> any WireMessage {
        guard let m = types[type] else { throw FrameError.unknownType(type) }
        return try m.decode(payload)
    }
}
