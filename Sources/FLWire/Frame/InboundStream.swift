import Synchronization

/// The tensor bytes that follow a message, read from its chunk frames straight into the caller's
/// buffers. Every chunk header is checked (type, id, size against the limit and against what is left)
/// before its bytes are read.
public final class InboundStream: @unchecked Sendable {
    private let channel: FrameChannel
    private let id: UInt32
    /// Total bytes announced.
    public let byteCount: Int
    // Only the thread that currently owns the stream reads from it; the fields below are its state.
    private var consumed = 0
    private var leftInChunk = 0
    private let deadlineSeconds: Double
    private let finished = Atomic<Bool>(false)
    /// The first error the connection gave while reading this stream. After it the connection's
    /// position inside the stream is unknown, so every later read (including `skipRest`) fails with
    /// it at once instead of taking stray bytes for a chunk header and waiting on them.
    private var failure: (any Error)?
    private let onFinish: @Sendable () -> Void

    init(channel: FrameChannel, id: UInt32, byteCount: Int, idleTimeout: Double, onFinish: @escaping @Sendable () -> Void = {}) {
        self.channel = channel
        self.id = id
        self.byteCount = byteCount
        self.deadlineSeconds = idleTimeout
        self.onFinish = onFinish
        if byteCount == 0 { finish() }
    }

    /// Bytes not read yet.
    public var remaining: Int { byteCount - consumed }

    /// Fills `buffer` completely with the next bytes of the stream. After the connection fails
    /// inside the stream, this and every later read throw that failure.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws {
        guard buffer.count <= remaining else {
            throw FrameError.unexpectedChunk("reader asked for \(buffer.count) bytes, stream has \(remaining) left")
        }
        if let failure { throw failure }
        do {
            try readChunks(into: buffer)
        } catch {
            failure = error
            throw error
        }
    }

    private func readChunks(into buffer: UnsafeMutableRawBufferPointer) throws {
        var done = 0
        while done < buffer.count {
            if leftInChunk == 0 {
                let deadline = Deadline.after(seconds: deadlineSeconds)
                guard let header = try channel.readHeader(deadline: deadline) else {
                    throw FrameError.truncated(expected: byteCount, got: consumed + done)
                }
                guard header.type == MessageType.chunk.rawValue else {
                    throw FrameError.unexpectedChunk("expected a chunk of stream \(id), got frame type \(header.type)")
                }
                guard header.id == id else { throw FrameError.unexpectedChunk("chunk for id \(header.id) inside stream \(id)") }
                guard header.length > 0 else { throw FrameError.unexpectedChunk("empty chunk in stream \(id)") }
                guard header.length <= UInt64(channel.limits.chunkSize) else {
                    throw FrameError.tooLarge(length: header.length, limit: channel.limits.chunkSize)
                }
                guard header.length <= UInt64(remaining - done) else {
                    throw FrameError.unexpectedChunk("chunk of \(header.length) bytes overruns the stream (\(remaining - done) left)")
                }
                leftInChunk = Int(header.length)
            }
            let n = min(leftInChunk, buffer.count - done)
            try channel.stream.readExactly(
                into: UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + n)]),
                deadline: .after(seconds: deadlineSeconds))
            leftInChunk -= n
            done += n
        }
        consumed += done
        if consumed == byteCount { finish() }
    }

    /// Reads the whole stream as float32 values.
    public func readFloats() throws -> [Float] {
        guard remaining % 4 == 0 else { throw FrameError.unexpectedChunk("stream of \(remaining) bytes is not float32 data") }
        let n = remaining / 4
        if n == 0 { return [] }  // see FrameChannel.readMessagePayload
        return try [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            try read(into: UnsafeMutableRawBufferPointer(buffer))
            initialized = n
        }
    }

    /// Reads and discards what is left, through a small buffer.
    public func skipRest() throws {
        var scratch = [UInt8](repeating: 0, count: min(remaining, 1 << 16))
        while remaining > 0 {
            let n = min(remaining, scratch.count)
            try scratch.withUnsafeMutableBytes { try read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<n])) }
        }
    }

    /// Whether every byte has been read.
    public var isFinished: Bool { finished.load(ordering: .acquiring) }

    /// Marks the stream done (idempotent) and lets the connection's reader continue.
    func finish() {
        if finished.exchange(true, ordering: .acquiringAndReleasing) { return }
        onFinish()
    }
}
