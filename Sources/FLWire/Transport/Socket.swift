#if canImport(Glibc)
import Glibc
#endif

/// Thin wrappers over POSIX TCP sockets: every socket is non-blocking, close-on-exec and has Nagle
/// off (requests and replies are small and latency-bound); every wait is a `poll` with a deadline.
public enum Socket {
    /// Connects to `host:port`, trying each resolved address in turn, until `deadline`.
    public static func connect(host: String, port: Int, deadline: Deadline) throws -> Int32 {
        let address = "\(host):\(port)"
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw TLSError.connect(address: address, reason: "cannot resolve host: \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let info = node {
            node = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), info.pointee.ai_protocol)
            if fd < 0 {
                lastError = String(cString: strerror(errno))
                continue
            }
            setNoDelay(fd)
            if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return fd }
            if errno != EINPROGRESS {
                lastError = String(cString: strerror(errno))
                Glibc.close(fd)
                continue
            }
            do {
                try wait(fd, for: Int16(POLLOUT), deadline: deadline, operation: "connect to \(address)")
            } catch {
                Glibc.close(fd)
                throw TLSError.connect(address: address, reason: "timed out")
            }
            var soError: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len)
            if soError == 0 { return fd }
            lastError = String(cString: strerror(soError))
            Glibc.close(fd)
        }
        throw TLSError.connect(address: address, reason: lastError)
    }

    /// A listening socket on `host:port` (port 0 picks a free port); returns the descriptor and the port.
    public static func listen(host: String, port: Int, backlog: Int32 = 1024) throws -> (fd: Int32, port: Int) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host.isEmpty ? nil : host, String(port), &hints, &list)
        guard rc == 0, let info = list else {
            throw TLSError.configuration("cannot resolve listen address \(host):\(port): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), info.pointee.ai_protocol)
        guard fd >= 0 else { throw TLSError.configuration("socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            let e = errno
            Glibc.close(fd)
            throw TLSError.configuration("cannot listen on \(host):\(port): \(String(cString: strerror(e)))")
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let e = errno
            Glibc.close(fd)
            throw TLSError.configuration("listen on \(host):\(port): \(String(cString: strerror(e)))")
        }
        return (fd, localPort(fd))
    }

    /// The local port a socket is bound to.
    public static func localPort(_ fd: Int32) -> Int {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &len) }
        }
        return port(of: storage)
    }

    /// `address:port` of the peer, for log lines.
    public static func peerAddress(_ fd: Int32) -> String {
        guard let (host, port) = peerEndpoint(fd) else { return "unknown peer" }
        return "\(host):\(port)"
    }

    /// The peer's numeric IP address and port; nil when the socket is no longer connected.
    public static func peerEndpoint(_ fd: Int32) -> (host: String, port: Int)? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &len) }
        }
        guard rc == 0 else { return nil }
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let ok = withUnsafePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, len, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST)
            }
        }
        let name = ok == 0 ? String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
        return (name, port(of: storage))
    }

    private static func port(of storage: sockaddr_storage) -> Int {
        var s = storage
        switch Int32(s.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &s) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) } }
        case AF_INET6:
            return withUnsafePointer(to: &s) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) } }
        default:
            return 0
        }
    }

    static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    static func setNonBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
    }

    /// Waits until `fd` is ready for `events` or `deadline` passes (throws `TimeoutError`).
    /// Returns the events seen, which may include POLLHUP or POLLERR.
    @discardableResult
    public static func wait(_ fd: Int32, for events: Int16, deadline: Deadline, operation: @autoclosure () -> String) throws -> Int16 {
        var pfd = pollfd(fd: fd, events: events, revents: 0)
        while true {
            let rc = poll(&pfd, 1, deadline.pollTimeout)
            if rc > 0 { return pfd.revents }
            if rc == 0 { throw TimeoutError(operation()) }
            if errno != EINTR { throw TLSError.connection(peer: "fd \(fd)", reason: "poll: \(String(cString: strerror(errno)))") }
        }
    }
}
