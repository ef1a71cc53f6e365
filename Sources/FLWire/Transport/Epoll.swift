#if canImport(Glibc)
import Glibc
#endif
import CShims

/// Descriptors waited on together (Linux epoll, level-triggered): `wait` gives back the tokens of
/// those readable, hung up or failed, at a cost that does not grow with how many are idle. For event
/// loops over thousands of connections (`ConnectionLoop`, and the benchmark's simulated Envoys).
///
/// A level-triggered descriptor keeps waking `wait` while it has bytes, so read it until it would
/// block (`TLSConnection.readAvailable`) or remove it.
public final class Epoll: @unchecked Sendable {
    private let fd: Int32

    public init() throws {
        fd = fl_epoll_create()
        guard fd >= 0 else { throw TLSError.configuration("epoll_create: \(String(cString: strerror(errno)))") }
    }

    deinit { Glibc.close(fd) }

    /// Watches `descriptor` for bytes to read (and hang-ups); `token` comes back from `wait` for it.
    /// False (with `errno`) when the kernel refuses.
    @discardableResult
    public func add(_ descriptor: Int32, token: UInt64) -> Bool {
        fl_epoll_control(fd, 0, descriptor, 1, token) == 0
    }

    /// Stops watching `descriptor` (before it is closed, or while it is not to be read).
    public func remove(_ descriptor: Int32) {
        _ = fl_epoll_control(fd, 2, descriptor, 0, 0)
    }

    /// Waits until a watched descriptor is ready or `deadline` passes, and fills `tokens` from the
    /// start with the ready ones' tokens (at most `tokens.count`, at most 256). Returns how many;
    /// 0 when the deadline passed or a signal interrupted the wait.
    public func wait(into tokens: inout [UInt64], until deadline: Deadline) -> Int {
        let timeout = deadline.pollTimeout
        let n = tokens.withUnsafeMutableBufferPointer { t in fl_epoll_wait(fd, t.baseAddress, Int32(min(t.count, 256)), timeout) }
        if n < 0 {
            // EINTR, or (only with a bug here) EBADF/EINVAL: either way nothing is ready; do not spin on it.
            if errno != EINTR { _ = poll(nil, 0, 10) }
            return 0
        }
        return Int(n)
    }
}
