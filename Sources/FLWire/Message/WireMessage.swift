import FLCore

/// A typed control message: small, binary-encoded, one per frame.
public protocol WireMessage: Sendable {
    /// The frame type that carries this message.
    static var type: MessageType { get }
    func encode(to writer: inout WireWriter)
    init(from reader: inout WireReader) throws
}

extension WireMessage {
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
    ] + directorMessages + [FeatureStatisticsReport.self]

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

// MARK: - Common messages

/// A refusal or failure, answering any request.
public struct ErrorReply: WireMessage, Error, CustomStringConvertible {
    public static let type = MessageType(rawValue: 0x0010)

    /// Why the request failed, in a form programs can act on.
    public enum Code: UInt16, Sendable {
        case badRequest = 1, notAllowed = 2, notFound = 3, rejected = 4, conflict = 5, internalError = 6, shuttingDown = 7, unknownPeer = 8
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public func encode(to w: inout WireWriter) {
        w.u16(code.rawValue)
        w.string(message)
    }

    public init(from r: inout WireReader) throws {
        let raw = try r.u16("code")
        code = Code(rawValue: raw) ?? .internalError
        message = try r.string("message")
    }

    public var description: String { "\(message) (\(code))" }
}

/// A request that succeeded with nothing to return.
public struct OkReply: WireMessage {
    public static let type = MessageType(rawValue: 0x0011)
    public init() {}
    public func encode(to w: inout WireWriter) {}
    public init(from r: inout WireReader) throws {}
}

/// Keeps an idle connection alive; answered with `OkReply`.
public struct Ping: WireMessage {
    public static let type = MessageType(rawValue: 0x0012)
    public init() {}
    public func encode(to w: inout WireWriter) {}
    public init(from r: inout WireReader) throws {}
}

// MARK: - Layout encoding shared by messages that carry models

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
