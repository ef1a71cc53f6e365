#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// systemd's readiness protocol (`sd_notify(3)`), spoken without libsystemd: datagrams such as
/// `READY=1` or `STATUS=…` sent to the socket named by `NOTIFY_SOCKET`. A unit of `Type=notify`
/// counts as started only once `READY=1` arrives, so `systemctl start` and units ordered after it
/// wait for a Director that listens or an Envoy that is registered, not for a process that exists.
/// With `WatchdogSec=`, systemd sets `WATCHDOG_USEC` and restarts a service that stops sending
/// `WATCHDOG=1` within that time.
///
/// Without `NOTIFY_SOCKET` (a terminal, a test) there is no notifier and nothing is sent.
public final class ServiceNotifier: @unchecked Sendable {
    /// The socket's path as given (`@name` for Linux's abstract namespace).
    public let socketPath: String
    /// How often to send `WATCHDOG=1` (half of `WATCHDOG_USEC`); nil when no watchdog is asked of this process.
    public let watchdogInterval: Double?
    private let address: Data
    private let descriptor: Int32
    // The watchdog's timer; `lock` guards it (the rest is immutable after init).
    private let lock = NSLock()
    private var watchdog: DispatchSourceTimer?

    /// The notifier `environment` asks for, or nil when it names no socket. Throws when
    /// `NOTIFY_SOCKET` or `WATCHDOG_USEC` is malformed, so a unit written wrongly fails loudly
    /// instead of timing out.
    public init?(environment: [String: String] = ProcessInfo.processInfo.environment, processID: pid_t = getpid()) throws {
        guard let path = environment["NOTIFY_SOCKET"], !path.isEmpty else { return nil }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        guard path.hasPrefix("/") || path.hasPrefix("@") else {
            throw ServiceNotifierError("NOTIFY_SOCKET=\(path): expected an absolute path or an abstract socket name starting with '@'")
        }
        if bytes[0] == UInt8(ascii: "@") { bytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { throw ServiceNotifierError("NOTIFY_SOCKET=\(path): longer than a socket path may be (\(capacity - 1) bytes)") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: bytes) }
        let length = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count
        self.address = withUnsafeBytes(of: &address) { Data($0.prefix(length)) }
        socketPath = path

        if let text = environment["WATCHDOG_USEC"], !text.isEmpty {
            guard let microseconds = UInt64(text), microseconds > 0 else {
                throw ServiceNotifierError("WATCHDOG_USEC=\(text): expected a positive number of microseconds")
            }
            // WATCHDOG_PID says which process the watchdog is for; a child that inherited it is not.
            if let owner = environment["WATCHDOG_PID"], !owner.isEmpty, pid_t(owner) != processID {
                watchdogInterval = nil
            } else {
                watchdogInterval = Double(microseconds) / 2e6
            }
        } else {
            watchdogInterval = nil
        }
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw ServiceNotifierError("cannot open a socket for NOTIFY_SOCKET=\(path): \(String(cString: strerror(errno)))") }
    }

    deinit {
        watchdog?.cancel()
        close(descriptor)
    }

    /// Sends one notification: lines of `KEY=value` (`READY=1`, `STATUS=…`, `RELOADING=1`,
    /// `STOPPING=1`, `WATCHDOG=1`). Returns false when it could not be sent; a service manager
    /// that has gone away is no reason for the service to stop, so callers may ignore it.
    @discardableResult
    public func notify(_ lines: String...) -> Bool {
        let message = Array(lines.joined(separator: "\n").utf8)
        let sent = address.withUnsafeBytes { target in
            message.withUnsafeBytes { payload in
                sendto(descriptor, payload.baseAddress, payload.count, Int32(MSG_NOSIGNAL),
                       target.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(target.count))
            }
        }
        return sent == message.count
    }

    /// `READY=1` with a status line, after start-up or after a reload.
    public func ready(status: String) { notify("READY=1", "STATUS=\(ServiceNotifier.oneLine(status))") }

    /// A status line for `systemctl status`.
    public func status(_ text: String) { notify("STATUS=\(ServiceNotifier.oneLine(text))") }

    /// `RELOADING=1` with the monotonic time systemd asks for, before a configuration is re-read.
    public func reloading() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        notify("RELOADING=1", "MONOTONIC_USEC=\(UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000)")
    }

    /// `STOPPING=1`, when the service begins to shut down.
    public func stopping() { notify("STOPPING=1") }

    /// Starts sending `WATCHDOG=1` every `watchdogInterval`, each time only after `alive()` returns
    /// true: a service stuck inside `alive` (a lock that is never released) stops the pings and
    /// is restarted by systemd. Does nothing when no watchdog is asked for.
    public func startWatchdog(alive: @escaping @Sendable () -> Bool = { true }) {
        guard let interval = watchdogInterval else { return }
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "swiftfl.watchdog"))
        timer.schedule(deadline: .now(), repeating: interval, leeway: .milliseconds(Int(min(1000, interval * 100))))
        timer.setEventHandler { [weak self] in
            if alive() { self?.notify("WATCHDOG=1") }
        }
        lock.withLock {
            watchdog?.cancel()
            watchdog = timer
        }
        timer.resume()
    }

    /// Status text is one line: a newline would start another `KEY=value`.
    static func oneLine(_ text: String) -> String { text.replacingOccurrences(of: "\n", with: " ") }
}

/// A notification socket or watchdog setting that cannot be used, with the variable and its value.
public struct ServiceNotifierError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
