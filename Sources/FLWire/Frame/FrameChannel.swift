import Synchronization

/// Frames over a `ByteStream`: reads with limits checked before allocation, and writes that never
/// interleave two frames (or a message and its chunks) from different threads.
///
/// One thread reads at a time (the connection's reader); any thread may write.
public final class FrameChannel: @unchecked Sendable {
    public let stream: any ByteStream
    public let limits: FrameLimits
    private let writeLock = Mutex(())
    private var headerBuffer = [UInt8](repeating: 0, count: FrameHeader.size)  // reader's own

    public init(stream: any ByteStream, limits: FrameLimits) {
        self.stream = stream
        self.limits = limits
    }

    // MARK: Reading (one reader at a time)

    /// Reads the next frame header; nil when the peer closed cleanly between frames.
    public func readHeader(deadline: Deadline) throws -> FrameHeader? {
        try headerBuffer.withUnsafeMutableBytes { raw in
            let first = try stream.read(into: raw, deadline: deadline)
            if first == 0 { return nil }
            if first < FrameHeader.size {
                do {
                    try stream.readExactly(into: UnsafeMutableRawBufferPointer(rebasing: raw[first...]), deadline: deadline)
                } catch FrameError.truncated(_, let got) {
                    throw FrameError.truncated(expected: FrameHeader.size, got: first + got)
                }
            }
            return try FrameHeader.decode(UnsafeRawBufferPointer(raw))
        }
    }

    /// Reads a control message's payload after checking its length against the limit.
    public func readMessagePayload(_ header: FrameHeader, deadline: Deadline) throws -> [UInt8] {
        guard header.length <= UInt64(limits.maximumMessageSize) else {
            throw FrameError.tooLarge(length: header.length, limit: limits.maximumMessageSize)
        }
        let n = Int(header.length)
        // Empty payloads (Ping, OkReply) are common; the stdlib's uninitialized-capacity initializer
        // writes the count into the shared empty-array storage for n == 0, a race the thread sanitizer reports.
        if n == 0 { return [] }
        return try [UInt8](unsafeUninitializedCapacity: n) { buffer, initialized in
            try stream.readExactly(into: UnsafeMutableRawBufferPointer(buffer), deadline: deadline)
            initialized = n
        }
    }

    /// Reads the next complete control message (with its id, flags and announced stream length).
    /// Returns nil at a clean end of stream.
    public func readMessage(deadline: Deadline, payloadDeadline: Deadline? = nil) throws -> IncomingFrame? {
        guard let header = try readHeader(deadline: deadline) else { return nil }
        if header.type == MessageType.chunk.rawValue {
            throw FrameError.unexpectedChunk("chunk with id \(header.id) outside any stream")
        }
        let payload = try readMessagePayload(header, deadline: payloadDeadline ?? deadline)
        return try FrameChannel.decodeMessage(header, payload: payload, limits: limits)
    }

    /// The control message in a frame's payload, with the length of the stream it announces
    /// (checked against `limits`) taken off the front when the frame has the `.stream` flag.
    static func decodeMessage(_ header: FrameHeader, payload: [UInt8], limits: FrameLimits) throws -> IncomingFrame {
        var payload = payload
        var streamLength = 0
        if header.flags.contains(.stream) {
            var r = WireReader(payload, context: "stream header")
            streamLength = try r.count("streamLength", limit: limits.maximumStreamSize)
            payload.removeFirst(8)
        }
        let message = try MessageRegistry.decode(type: header.type, payload: payload)
        return IncomingFrame(header: header, message: message, streamLength: streamLength)
    }

    // MARK: Writing (any thread)

    /// Sends one control message.
    public func send(_ message: some WireMessage, id: UInt32, flags: FrameFlags = [], deadline: Deadline) throws {
        let frame = FrameChannel.encodeFrame(message, id: id, flags: flags, streamLength: nil)
        try writeLock.withLock { _ in
            try frame.withUnsafeBytes { try stream.write($0, deadline: deadline) }
        }
    }

    /// Sends one control message if that cannot wait: the channel is free (no stream on its way) and
    /// the connection has room for it. Returns false, having sent nothing, otherwise.
    public func sendIfWritable(_ message: some WireMessage, id: UInt32, flags: FrameFlags = [], deadline: Deadline) throws -> Bool {
        let frame = FrameChannel.encodeFrame(message, id: id, flags: flags, streamLength: nil)
        let sent = try writeLock.withLockIfAvailable { _ -> Bool in
            guard stream.canWriteWithoutWaiting(frame.count) else { return false }
            try frame.withUnsafeBytes { try stream.write($0, deadline: deadline) }
            return true
        }
        return sent ?? false
    }

    /// Sends a message followed by its stream in chunk frames; the two are never interleaved
    /// with other frames. Chunks go straight from the source's storage to the connection.
    public func send(_ message: some WireMessage, id: UInt32, flags: FrameFlags = [], stream source: any ChunkSource, deadline: Deadline) throws {
        let frame = FrameChannel.encodeFrame(message, id: id, flags: flags.union(.stream), streamLength: source.byteCount)
        let chunk = limits.chunkSize
        try writeLock.withLock { _ in
            try frame.withUnsafeBytes { try stream.write($0, deadline: deadline) }
            var offset = 0
            var header = [UInt8](repeating: 0, count: FrameHeader.size)
            while offset < source.byteCount {
                let n = min(chunk, source.byteCount - offset)
                header.withUnsafeMutableBytes {
                    FrameHeader(length: UInt64(n), type: MessageType.chunk.rawValue, flags: flags.intersection(.reply), id: id).encode(into: $0)
                }
                try header.withUnsafeBytes { try stream.write($0, deadline: deadline) }
                try source.withBytes(offset: offset, count: n) { try stream.write($0, deadline: deadline) }
                offset += n
            }
        }
    }

    /// Header and payload of a control message in one buffer, so it goes out in one TLS record.
    public static func encodeFrame(_ message: some WireMessage, id: UInt32, flags: FrameFlags, streamLength: Int?) -> [UInt8] {
        var w = WireWriter(capacity: 128)
        for _ in 0..<FrameHeader.size { w.u8(0) }
        if let streamLength { w.u64(UInt64(streamLength)) }
        message.encode(to: &w)
        var bytes = w.bytes
        let header = FrameHeader(length: UInt64(bytes.count - FrameHeader.size), type: type(of: message).type.rawValue, flags: flags, id: id)
        bytes.withUnsafeMutableBytes { header.encode(into: $0) }
        return bytes
    }

    public func close() { stream.close() }
}

/// A control message as read from the wire.
public struct IncomingFrame: Sendable {
    public var header: FrameHeader
    public var message: any WireMessage
    /// Bytes of tensor data that follow in chunk frames (0 when none).
    public var streamLength: Int
}
