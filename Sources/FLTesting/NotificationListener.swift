#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The service manager's end of `NOTIFY_SOCKET`, for tests: a datagram socket bound to a path,
/// from which notifications (`READY=1`, `WATCHDOG=1`, …) are read with a deadline.
public final class NotificationListener: @unchecked Sendable {
    /// The path to put in `NOTIFY_SOCKET`.
    public let path: String
    private let descriptor: Int32

    /// Binds a socket at `path` (which must not exist).
    public convenience init(path: String) throws {
        try self.init(path: path, address: Array(path.utf8))
    }

    /// Binds a socket in Linux's abstract namespace, reached as `@name`.
    public convenience init(abstractName name: String) throws {
        try self.init(path: "@\(name)", address: [0] + Array(name.utf8))
    }

    private init(path: String, address bytes: [UInt8]) throws {
        self.path = path
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw ProcessUnderTestError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw ProcessUnderTestError("socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard result == 0 else {
            close(descriptor)
            throw ProcessUnderTestError("bind \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        close(descriptor)
        if path.hasPrefix("/") { unlink(path) }
    }

    /// The next notification, or nil when none arrives within `timeout` seconds.
    public func receive(timeout: Double) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { return nil }
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(min(left * 1000 + 1, 60_000)))
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard count >= 0 else { return nil }
            return String(decoding: buffer[0..<count], as: UTF8.self)
        }
    }

    /// Reads notifications until one satisfies `predicate` (returned), or nil after `timeout` seconds.
    public func wait(timeout: Double, for predicate: (String) -> Bool) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while let message = receive(timeout: deadline.timeIntervalSinceNow) {
            if predicate(message) { return message }
        }
        return nil
    }
}
