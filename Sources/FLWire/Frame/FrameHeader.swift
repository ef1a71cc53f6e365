/// The fixed 16-byte header in front of every frame on a SwiftFL connection:
/// `[length: u64][type: u16][flags: u16][id: u32]`, all little-endian.
///
/// `length` counts payload bytes only. It is 64 bits wide so that a hostile peer's absurd claim
/// (say 100 GiB) is seen as such and refused, rather than wrapping into something plausible.
public struct FrameHeader: Sendable, Hashable, CustomStringConvertible {
    public static let size = 16

    public var length: UInt64
    public var type: UInt16
    public var flags: FrameFlags
    /// Matches a reply to its request; 0 is never used by a request.
    public var id: UInt32

    public init(length: UInt64, type: UInt16, flags: FrameFlags = [], id: UInt32) {
        self.length = length
        self.type = type
        self.flags = flags
        self.id = id
    }

    /// Writes the header into the first 16 bytes of `buffer`.
    public func encode(into buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= FrameHeader.size)
        buffer.storeBytes(of: length.littleEndian, toByteOffset: 0, as: UInt64.self)
        buffer.storeBytes(of: type.littleEndian, toByteOffset: 8, as: UInt16.self)
        buffer.storeBytes(of: flags.rawValue.littleEndian, toByteOffset: 10, as: UInt16.self)
        buffer.storeBytes(of: id.littleEndian, toByteOffset: 12, as: UInt32.self)
    }

    /// The header as 16 bytes.
    public var bytes: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: FrameHeader.size) { buffer, n in
            encode(into: UnsafeMutableRawBufferPointer(buffer))
            n = FrameHeader.size
        }
    }

    /// Reads a header from the first 16 bytes of `buffer`; unknown flag bits are an error so that
    /// a newer peer's frames are never half-understood.
    public static func decode(_ buffer: UnsafeRawBufferPointer) throws -> FrameHeader {
        guard buffer.count >= size else { throw FrameError.truncated(expected: size, got: buffer.count) }
        let length = UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        let type = UInt16(littleEndian: buffer.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
        let rawFlags = UInt16(littleEndian: buffer.loadUnaligned(fromByteOffset: 10, as: UInt16.self))
        let id = UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        let flags = FrameFlags(rawValue: rawFlags)
        guard flags.isSubset(of: .known) else { throw FrameError.unknownFlags(rawFlags) }
        return FrameHeader(length: length, type: type, flags: flags, id: id)
    }

    public var description: String { "frame(type \(type), id \(id), \(length) bytes, flags \(flags.rawValue))" }
}

/// Bits in a frame header's `flags` field.
public struct FrameFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// The frame answers the request with the same id.
    public static let reply = FrameFlags(rawValue: 1 << 0)
    /// Chunk frames with the same id follow this message, carrying `streamLength` bytes of tensor data.
    public static let stream = FrameFlags(rawValue: 1 << 1)

    static let known: FrameFlags = [.reply, .stream]
}

/// Frame-level failures. Each one closes the connection it happened on, and only that one.
public enum FrameError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The peer announced a payload larger than this end accepts.
    case tooLarge(length: UInt64, limit: Int)
    /// The connection ended inside a frame.
    case truncated(expected: Int, got: Int)
    /// The header carries flag bits this version does not know.
    case unknownFlags(UInt16)
    /// A chunk arrived that does not belong to the stream being read.
    case unexpectedChunk(String)
    /// A frame type this end does not know.
    case unknownType(UInt16)

    public var description: String {
        switch self {
        case let .tooLarge(length, limit): "frame of \(length) bytes exceeds the limit of \(limit) bytes"
        case let .truncated(expected, got): "connection closed inside a frame (\(got) of \(expected) bytes)"
        case let .unknownFlags(flags): "frame has unknown flag bits 0x\(String(flags, radix: 16))"
        case let .unexpectedChunk(why): "unexpected chunk frame: \(why)"
        case let .unknownType(type): "unknown frame type \(type)"
        }
    }
}
