#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import FLCore

/// Machines of their own for a test, made of Linux network namespaces: one namespace per host, each
/// with a single interface `eth0` holding its own address on one /24 subnet (`10.77.X.0/24`, X
/// random), joined by veth pairs to a bridge that lives in a namespace of its own (the switch). The
/// machine's own network gains nothing, so runs side by side cannot clash, whatever subnet they draw.
///
/// A host's link can be cut at the switch (`cut`) and mended (`restore`), as a pulled cable would be:
/// the host keeps its address and routes, and what it sends goes nowhere until the link is back.
/// `launcher(for:)` runs a process on a host (`ip netns exec`, which execs the command, so the process
/// a `ProcessUnderTest` watches and kills is the command itself).
///
/// Needs root and iproute2's `ip` (`isAvailable` tries). Every name is `swiftfl-net-<pid>-<random>-…`, so
/// `teardown()` (also run when the object goes away) deletes exactly what this object made, and
/// `removeLeftovers()` what runs that died before their teardown left behind (their pid is gone).
public final class NetworkNamespaces: Sendable {
    /// What every namespace made here is called first.
    public static let prefix = "swiftfl-net-"
    /// The hosts, in the order given: each has a namespace and an address.
    public let hosts: [String]
    /// The first three numbers of the subnet, such as `10.77.42`.
    public let subnet: String
    private let name: String
    private let ip: String
    private let logs: TemporaryDirectory
    private let tornDown = Atomic<Bool>(false)

    /// Whether this process can make namespaces and run commands in them: it runs as root (with the
    /// capabilities a container may withhold from root), `ip` is installed, and a trial namespace
    /// could be made, entered and deleted.
    public static let isAvailable: Bool = {
        guard geteuid() == 0, let ip = ipCommand, let logs = try? TemporaryDirectory(prefix: "swiftfl-netns") else { return false }
        let probe = "\(prefix)\(getpid())-probe"
        defer { try? run([ip, "netns", "delete", probe], logs: logs) }
        do {
            try run([ip, "netns", "add", probe], logs: logs)
            try run([ip, "-n", probe, "link", "set", "lo", "up"], logs: logs)
            try run([ip, "netns", "exec", probe, "/bin/sh", "-c", "exit 0"], logs: logs)
            return true
        } catch {
            return false
        }
    }()

    /// Where iproute2's `ip` is, or nil.
    public static let ipCommand: String? = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { access($0, X_OK) == 0 }

    /// Makes a namespace, an address and a link to the switch for each of `hosts` (at most 200).
    /// Anything made before a step fails is deleted again before the error is thrown.
    public init(hosts: [String]) throws {
        guard let ip = NetworkNamespaces.ipCommand, NetworkNamespaces.isAvailable else {
            throw NetworkNamespacesError("this process cannot make network namespaces (it needs root and iproute2's `ip`)")
        }
        guard !hosts.isEmpty, hosts.count <= 200, Set(hosts).count == hosts.count else {
            throw NetworkNamespacesError("expected 1 to 200 distinct host names, got \(hosts)")
        }
        self.ip = ip
        self.hosts = hosts
        subnet = "10.77.\(Int.random(in: 1...254))"
        name = "\(NetworkNamespaces.prefix)\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        logs = try TemporaryDirectory(prefix: "swiftfl-netns")
        do {
            try build()
        } catch {
            teardown()
            throw error
        }
    }

    deinit { teardown() }

    /// The namespace of the switch (the bridge `br0`, and the switch end `p<i>` of each host's link).
    public var switchNamespace: String { "\(name)-sw" }

    /// The namespace of `host`.
    public func namespace(of host: String) throws -> String { "\(name)-\(try index(of: host))" }

    /// The address of `host` on the subnet.
    public func address(of host: String) throws -> String { "\(subnet).\(10 + (try index(of: host)))" }

    /// The command that runs what follows it on `host`: `ip netns exec <namespace>`.
    public func launcher(for host: String) throws -> [String] { [ip, "netns", "exec", try namespace(of: host)] }

    /// Cuts `host`'s link at the switch: its switch end goes down, so nothing passes either way.
    public func cut(_ host: String) throws {
        try run([ip, "-n", switchNamespace, "link", "set", "p\(try index(of: host))", "down"])
    }

    /// Mends `host`'s link: its switch end comes up again (the bridge runs no spanning tree, so it forwards at once).
    public func restore(_ host: String) throws {
        try run([ip, "-n", switchNamespace, "link", "set", "p\(try index(of: host))", "up"])
    }

    /// Deletes every namespace this object made, and with them the bridge and the links. Processes
    /// still running on a host keep its namespace alive (without its name) until they end. Idempotent.
    public func teardown() {
        if tornDown.exchange(true, ordering: .acquiringAndReleasing) { return }
        for namespace in NetworkNamespaces.existing().filter({ $0.hasPrefix("\(name)-") }) {
            try? run([ip, "netns", "delete", namespace])
        }
        logs.remove()
    }

    /// Deletes the namespaces of runs whose process has ended (a test that crashed, or was killed,
    /// before its teardown); those of live processes, such as a run beside this one, are left alone.
    public static func removeLeftovers() {
        guard isAvailable, let ip = ipCommand, let logs = try? TemporaryDirectory(prefix: "swiftfl-netns") else { return }
        for namespace in existing() {
            let rest = namespace.dropFirst(prefix.count)
            guard namespace.hasPrefix(prefix), let pid = pid_t(rest.prefix { $0.isNumber }), pid != getpid(),
                  kill(pid, 0) != 0 && errno == ESRCH else { continue }
            try? run([ip, "netns", "delete", namespace], logs: logs)
        }
    }

    // MARK: Building

    private func index(of host: String) throws -> Int {
        guard let i = hosts.firstIndex(of: host) else { throw NetworkNamespacesError("no host '\(host)' among \(hosts)") }
        return i
    }

    private func build() throws {
        let sw = switchNamespace
        try run([ip, "netns", "add", sw])
        try run([ip, "-n", sw, "link", "add", "br0", "type", "bridge"])
        try run([ip, "-n", sw, "link", "set", "br0", "up"])
        for (i, host) in hosts.enumerated() {
            let namespace = try namespace(of: host)
            try run([ip, "netns", "add", namespace])
            try run([ip, "-n", namespace, "link", "set", "lo", "up"])
            // Made in the switch's namespace with its other end moved straight to the host's, so no
            // interface ever appears in the machine's own namespace.
            try run([ip, "-n", sw, "link", "add", "p\(i)", "type", "veth", "peer", "name", "eth0", "netns", namespace])
            try run([ip, "-n", sw, "link", "set", "p\(i)", "master", "br0"])
            try run([ip, "-n", sw, "link", "set", "p\(i)", "up"])
            try run([ip, "-n", namespace, "addr", "add", "\(try address(of: host))/24", "dev", "eth0"])
            try run([ip, "-n", namespace, "link", "set", "eth0", "up"])
        }
    }

    private func run(_ command: [String]) throws {
        try NetworkNamespaces.run(command, logs: logs)
    }

    /// Runs `command` to its end (10 s at most); throws with its error output when it fails.
    private static func run(_ command: [String], logs: TemporaryDirectory) throws {
        let errorLog = logs.appending("ip-\(UUID().uuidString.prefix(8)).stderr")
        let process = try ChildProcess(executable: command[0], arguments: Array(command.dropFirst()),
                                       standardOutput: .null, standardError: .file(errorLog))
        guard let status = process.wait(timeout: 10) else {
            process.kill()
            throw NetworkNamespacesError("`\(command.joined(separator: " "))` did not end within 10 s")
        }
        guard status.isSuccess else {
            let said = (try? String(contentsOfFile: errorLog, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            throw NetworkNamespacesError("`\(command.joined(separator: " "))` \(status): \(said)")
        }
    }

    /// The names of the namespaces `ip netns` knows (the files it keeps them under).
    private static func existing() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/var/run/netns")) ?? []).sorted()
    }
}

/// A namespace, link or address that could not be made or changed.
public struct NetworkNamespacesError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
