#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A `ByteStream` over a plain, non-blocking TCP socket: what `HTTPServer` speaks on a loopback
/// address without TLS, and what tests dial it with. Owns the descriptor and closes it once.
public final class PlainSocketStream: ByteStream, Sendable {
    private let fd: Int32
    private let closed = Atomic<Bool>(false)
    /// The other end, for errors.
    public let peer: String

    /// Takes ownership of a connected, non-blocking socket.
    public init(fd: Int32, peer: String) {
        self.fd = fd
        self.peer = peer
    }

    deinit { close() }

    public func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Deadline) throws -> Int {
        while true {
            let n = recv(fd, buffer.baseAddress, buffer.count, 0)
            if n >= 0 { return n }
            guard errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else {
                throw TLSError.connection(peer: peer, reason: "read: \(String(cString: strerror(errno)))")
            }
            try Socket.wait(fd, for: Int16(POLLIN), deadline: deadline, operation: "read from \(peer)")
        }
    }

    public func write(_ buffer: UnsafeRawBufferPointer, deadline: Deadline) throws {
        var done = 0
        while done < buffer.count {
            let n = send(fd, buffer.baseAddress! + done, buffer.count - done, Int32(MSG_NOSIGNAL))
            if n > 0 {
                done += n
                continue
            }
            guard n < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else {
                throw TLSError.connection(peer: peer, reason: "write: \(String(cString: strerror(errno)))")
            }
            try Socket.wait(fd, for: Int16(POLLOUT), deadline: deadline, operation: "write to \(peer)")
        }
    }

    public func close() {
        if !closed.exchange(true, ordering: .relaxed) { Glibc.close(fd) }
    }
}
