/// A served connection's bytes for a blocking reader that takes over from the event loop (a
/// request's stream, read by its handler): first the bytes the loop had received already, then the
/// connection itself. A read never asks the connection for more than its buffer holds, and the
/// stream's reader asks for no more than the stream's frames, so what it leaves of the prefix — and
/// anything OpenSSL read ahead — still belongs to the loop afterwards (`takeRemaining`).
final class PrefixedStream: ByteStream, @unchecked Sendable {
    let connection: TLSConnection
    // Used by the one thread that reads the stream, then handed back to the loop: no lock needed.
    private var prefix: [UInt8]
    private var offset = 0

    init(prefix: [UInt8], connection: TLSConnection) {
        self.prefix = prefix
        self.connection = connection
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Deadline) throws -> Int {
        guard offset < prefix.count else { return try connection.read(into: buffer, deadline: deadline) }
        let n = min(buffer.count, prefix.count - offset)
        prefix.withUnsafeBytes { raw in
            buffer.baseAddress!.copyMemory(from: raw.baseAddress! + offset, byteCount: n)
        }
        offset += n
        return n
    }

    func write(_ buffer: UnsafeRawBufferPointer, deadline: Deadline) throws {
        try connection.write(buffer, deadline: deadline)
    }

    func close() { connection.close() }

    func canWriteWithoutWaiting(_ count: Int) -> Bool { connection.canWriteWithoutWaiting(count) }

    /// The prefix bytes not read (frames that came after the stream), leaving none.
    func takeRemaining() -> [UInt8] {
        defer {
            prefix = []
            offset = 0
        }
        return offset == 0 ? prefix : Array(prefix[offset...])
    }
}
