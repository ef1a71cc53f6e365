/// A reliable, ordered stream of bytes with deadlines: a TLS connection in production, an in-memory
/// pipe in tests. Frames are read and written through it.
///
/// Implementations allow one reader and one writer to run at the same time on different threads.
public protocol ByteStream: AnyObject, Sendable {
    /// Reads at least one byte into `buffer`, waiting until `deadline`.
    /// Returns 0 when the peer has closed the stream cleanly.
    func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Deadline) throws -> Int
    /// Writes all of `buffer`, waiting until `deadline`.
    func write(_ buffer: UnsafeRawBufferPointer, deadline: Deadline) throws
    /// Closes the stream; blocked readers and writers return with an error or end-of-stream.
    func close()
    /// Whether writing `count` bytes now would not wait for the peer (room in the socket's buffer).
    func canWriteWithoutWaiting(_ count: Int) -> Bool
}

extension ByteStream {
    /// Streams that cannot tell say no: their writes go where waiting is harmless.
    public func canWriteWithoutWaiting(_ count: Int) -> Bool { false }

    /// Fills `buffer` completely, or throws `FrameError.truncated` if the stream ends first.
    public func readExactly(into buffer: UnsafeMutableRawBufferPointer, deadline: Deadline) throws {
        var done = 0
        while done < buffer.count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]), deadline: deadline)
            if n == 0 { throw FrameError.truncated(expected: buffer.count, got: done) }
            done += n
        }
    }
}
