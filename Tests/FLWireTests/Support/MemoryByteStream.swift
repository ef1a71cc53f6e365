import Synchronization
@testable import FLWire

/// An in-memory `ByteStream` for frame tests on one thread: reads come from `incoming` at most
/// `readSize` bytes at a time (to exercise partial reads) and end with end-of-stream; writes are
/// collected in `written`.
final class MemoryByteStream: ByteStream {
    private struct State {
        var incoming: [UInt8]
        var position = 0
        var written: [UInt8] = []
        var closed = false
    }
    private let state: Mutex<State>
    let readSize: Int

    init(incoming: [UInt8] = [], readSize: Int = .max) {
        state = Mutex(State(incoming: incoming))
        self.readSize = readSize
    }

    var written: [UInt8] { state.withLock { $0.written } }
    var unread: Int { state.withLock { $0.incoming.count - $0.position } }
    var isClosed: Bool { state.withLock { $0.closed } }

    func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Deadline) throws -> Int {
        state.withLock { s in
            let n = min(buffer.count, readSize, s.incoming.count - s.position)
            guard n > 0 else { return 0 }
            s.incoming.withUnsafeBytes { raw in
                buffer.baseAddress!.copyMemory(from: raw.baseAddress! + s.position, byteCount: n)
            }
            s.position += n
            return n
        }
    }

    func write(_ buffer: UnsafeRawBufferPointer, deadline: Deadline) throws {
        state.withLock { $0.written.append(contentsOf: buffer) }
    }

    func close() { state.withLock { $0.closed = true } }
}
