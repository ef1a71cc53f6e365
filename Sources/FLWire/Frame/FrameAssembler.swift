/// Frames put together from bytes as they arrive, for connections served by an event loop: what
/// `FrameChannel.readMessage` does with blocking reads, without ever waiting.
///
/// The same limits apply, checked as soon as a header is complete and before anything is kept for
/// its payload: a control message over `maximumMessageSize`, a stream longer than
/// `maximumStreamSize`, and a chunk frame outside a stream (streams are read by their handler, not
/// here) are refused. Only bytes that have arrived are held, so a peer that announces a large frame
/// and stalls costs what it sent, not what it announced.
public struct FrameAssembler: Sendable {
    public let limits: FrameLimits
    /// Bytes received and not yet taken, from `start`.
    private var buffer: [UInt8] = []
    private var start = 0
    /// The header of the frame being put together, once its 16 bytes are in and checked.
    private var header: FrameHeader?

    public init(limits: FrameLimits) {
        self.limits = limits
    }

    /// Bytes held: a partial frame, or frames not taken yet.
    public var bufferedByteCount: Int { buffer.count - start }

    /// Adds bytes received from the peer.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        if start > 0 && start * 2 >= buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Adds bytes received from the peer.
    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// The next complete frame, or nil until more bytes arrive. Throws when the peer broke the
    /// protocol (a frame too large, an unknown flag or message, a chunk outside a stream); the
    /// connection cannot go on after that.
    public mutating func next() throws -> IncomingFrame? {
        if header == nil {
            guard bufferedByteCount >= FrameHeader.size else { return nil }
            let decoded = try buffer.withUnsafeBytes { raw in
                try FrameHeader.decode(UnsafeRawBufferPointer(rebasing: raw[start..<(start + FrameHeader.size)]))
            }
            if decoded.type == MessageType.chunk.rawValue {
                throw FrameError.unexpectedChunk("chunk with id \(decoded.id) outside any stream")
            }
            guard decoded.length <= UInt64(limits.maximumMessageSize) else {
                throw FrameError.tooLarge(length: decoded.length, limit: limits.maximumMessageSize)
            }
            start += FrameHeader.size
            header = decoded
        }
        guard let header, bufferedByteCount >= Int(header.length) else { return nil }
        let end = start + Int(header.length)
        let payload = Array(buffer[start..<end])
        start = end
        self.header = nil
        if start == buffer.count {
            // Between frames nothing is held: an idle connection keeps no buffer.
            buffer = []
            start = 0
        }
        return try FrameChannel.decodeMessage(header, payload: payload, limits: limits)
    }

    /// Takes every byte held and not yet part of a returned frame (the start of a stream, when the
    /// last frame announced one), leaving the assembler empty. Only valid between frames.
    public mutating func takeBuffered() -> [UInt8] {
        precondition(header == nil, "takeBuffered in the middle of a frame")
        defer {
            buffer = []
            start = 0
        }
        return start == 0 ? buffer : Array(buffer[start...])
    }

    /// Whether part of a frame has arrived (the connection ending now would cut it).
    public var holdsPartialFrame: Bool { header != nil || bufferedByteCount > 0 }

    /// What the connection ending now would cut, as `FrameChannel` reports it; nil between frames.
    public var truncation: FrameError? {
        if let header { return .truncated(expected: Int(header.length), got: bufferedByteCount) }
        return bufferedByteCount > 0 ? .truncated(expected: FrameHeader.size, got: bufferedByteCount) : nil
    }
}
