#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import CShims

/// A child process started with `posix_spawn`, in its own process group, with every signal
/// unblocked and default signal handling (so `terminate()` works even when the parent thread
/// masks SIGTERM), and no descriptor of the parent's leaking into it except stdio.
///
/// A dedicated thread waits for it (`waitpid` blocks there, never on the Swift concurrency pool), so
/// an exit is noticed within a millisecond without polling.
public final class ChildProcess: @unchecked Sendable {
    /// Where a child's standard output or error goes.
    public enum Output: Sendable {
        case inherit
        case null
        /// Appended to this file (created if missing).
        case file(String)
        /// A pipe the parent reads from `standardOutput`/`standardError`.
        case pipe
    }

    /// How a child ended.
    public enum Status: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        public var isSuccess: Bool { self == .exited(0) }

        public var description: String {
            switch self {
            case let .exited(code): "exited with status \(code)"
            case let .signalled(sig): "killed by signal \(sig)\(sig == SIGKILL ? " (SIGKILL)" : sig == SIGTERM ? " (SIGTERM)" : "")"
            }
        }
    }

    public let pid: pid_t
    public let executable: String
    /// Read end of the child's standard output when spawned with `.pipe`.
    public let standardOutput: FileHandle?
    /// Read end of the child's standard error when spawned with `.pipe`.
    public let standardError: FileHandle?
    /// Write end of the child's standard input when spawned with `standardInputPipe`; nil otherwise
    /// (the child reads `/dev/null`). Writes to a child that has exited fail with EPIPE (SIGPIPE is
    /// ignored by every SwiftFL process).
    public let standardInput: FileHandle?
    private let exitStatus = Mutex<Status?>(nil)
    private let exited = DispatchSemaphore(value: 0)
    private let exitHandlers = Mutex<[@Sendable (Status) -> Void]>([])

    /// Starts `executable` with `arguments` (not including argv[0]).
    /// - Parameter environment: the child's whole environment; nil inherits the parent's.
    public init(executable: String, arguments: [String], environment: [String: String]? = nil,
                workingDirectory: String? = nil, standardInputPipe: Bool = false, standardOutput stdoutMode: Output = .inherit,
                standardError stderrMode: Output = .inherit) throws {
        self.executable = executable
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        // The parent's ends are owned by their FileHandles (closed when those go), the child's are
        // closed here once the child has its copies.
        var childEnds: [Int32] = []
        defer { for fd in childEnds { close(fd) } }
        func route(_ mode: Output, to target: Int32) throws -> FileHandle? {
            switch mode {
            case .inherit:
                return nil
            case .null:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
                return nil
            case let .file(path):
                posix_spawn_file_actions_addopen(&actions, target, path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
                return nil
            case .pipe:
                var fds: [Int32] = [0, 0]
                guard fl_pipe_cloexec(&fds) == 0 else { throw ChildProcessError(executable: executable, reason: "pipe: \(String(cString: strerror(errno)))") }
                childEnds.append(fds[1])
                posix_spawn_file_actions_adddup2(&actions, fds[1], target)
                return FileHandle(fileDescriptor: fds[0], closeOnDealloc: true)
            }
        }
        let out = try route(stdoutMode, to: 1)
        let err = try route(stderrMode, to: 2)
        var input: FileHandle?
        if standardInputPipe {
            var fds: [Int32] = [0, 0]
            guard fl_pipe_cloexec(&fds) == 0 else { throw ChildProcessError(executable: executable, reason: "pipe: \(String(cString: strerror(errno)))") }
            childEnds.append(fds[0])
            posix_spawn_file_actions_adddup2(&actions, fds[0], 0)
            input = FileHandle(fileDescriptor: fds[1], closeOnDealloc: true)
        }
        if !standardInputPipe { posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) }
        _ = fl_spawn_file_actions_addclosefrom(&actions, 3)
        if let workingDirectory {
            guard FileManager.default.fileExists(atPath: workingDirectory) else {
                throw ChildProcessError(executable: executable, reason: "working directory \(workingDirectory) does not exist")
            }
            _ = fl_spawn_file_actions_addchdir(&actions, workingDirectory)
        }

        ChildProcess.startAfresh(&attributes)

        let argv = [executable] + arguments
        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let rc = withCStrings(argv) { cArgv in
            withCStrings(env) { cEnv in posix_spawn(&pid, executable, &actions, &attributes, cArgv, cEnv) }
        }
        guard rc == 0 else {
            out.map { try? $0.close() }
            err.map { try? $0.close() }
            input.map { try? $0.close() }
            throw ChildProcessError(executable: executable, reason: String(cString: strerror(rc)))
        }
        self.pid = pid
        self.standardOutput = out
        self.standardError = err
        self.standardInput = input
        let waiter = Thread { [self] in waitForExit() }
        waiter.name = "wait:\(pid)"
        waiter.stackSize = 64 << 10
        waiter.start()
    }

    /// The child starts with no signal blocked (a thread that spawns may have some blocked: swift-corelibs-
    /// foundation#4772), the signals SwiftFL handles or ignores back at their defaults, and a process
    /// group of its own (so a stop reaches what it starts).
    private static func startAfresh(_ attributes: inout posix_spawnattr_t) {
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD, SIGQUIT] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
    }

    private func waitForExit() {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let result: Status = (status & 0x7f) == 0 ? .exited((status >> 8) & 0xff) : .signalled(status & 0x7f)
        exitStatus.withLock { $0 = result }
        exited.signal()
        for handler in exitHandlers.withLock({ $0 }) { handler(result) }
    }

    /// Runs `handler` on the waiting thread when the child exits (at once if it already has).
    public func onExit(_ handler: @escaping @Sendable (Status) -> Void) {
        let already: Status? = exitHandlers.withLock { handlers in
            if let s = exitStatus.withLock({ $0 }) { return s }
            handlers.append(handler)
            return nil
        }
        if let already { handler(already) }
    }

    /// The exit status, or nil while the child runs.
    public var status: Status? { exitStatus.withLock { $0 } }

    /// Waits for the child to exit; nil if `timeout` seconds pass first.
    @discardableResult
    public func wait(timeout: Double? = nil) -> Status? {
        if let s = status { return s }
        if let timeout {
            guard exited.wait(timeout: .now() + timeout) == .success else { return nil }
        } else {
            exited.wait()
        }
        exited.signal()  // let other waiters through too
        return status
    }

    /// Sends `signal` to the child's whole process group.
    public func signal(_ signal: Int32) {
        guard status == nil else { return }
        Glibc.kill(-pid, signal)
    }

    /// Asks the child to stop (SIGTERM).
    public func terminate() { signal(SIGTERM) }

    /// Stops the child now (SIGKILL).
    public func kill() { signal(SIGKILL) }

    /// Seconds `stop` waits for the exit after SIGKILL: a child still there then is stuck in the
    /// kernel (uninterruptible I/O) and nothing more can be done from here.
    public static let killWait = 10.0

    /// The one way SwiftFL stops a child: SIGTERM to its process group, up to `grace` seconds for it
    /// to exit, then SIGKILL and up to `killWait` seconds more; the waiting thread reaps it. With
    /// `grace` 0 the SIGKILL follows at once (for a child already judged stuck). A child that has
    /// already exited gets no signal.
    /// - Returns: how it ended, or nil if it outlived even SIGKILL's wait.
    @discardableResult
    public func stop(grace: Double = 5) -> Status? {
        terminate()
        if let s = wait(timeout: grace) { return s }
        kill()
        return wait(timeout: ChildProcess.killWait)
    }
}

/// A child process that could not be started.
public struct ChildProcessError: Error, Sendable, CustomStringConvertible {
    public var executable: String
    public var reason: String
    public var description: String { "cannot start \(executable): \(reason)" }
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

extension ChildProcess {
    /// Replaces the current process with `executable` (argv[0] is the path), with every signal
    /// unblocked; returns only by throwing when the exec fails.
    public static func exec(_ executable: String, arguments: [String]) throws -> Never {
        fl_unblock_all_signals()
        let argv = [executable] + arguments
        _ = withCStrings(argv) { execv(executable, $0) }
        throw ChildProcessError(executable: executable, reason: String(cString: strerror(errno)))
    }

    /// The absolute path of a sibling executable (e.g. `fx-aggregator` next to `fx`), found through
    /// `/proc/self/exe` so symlinks and relative `argv[0]` do not matter. Under `swift test` the
    /// running binary is inside `…/debug/<Package>PackageTests.xctest`, so its folder's parent is tried too.
    public static func siblingExecutable(_ name: String) -> String? {
        var candidates: [String] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            var dir = (exe as NSString).deletingLastPathComponent
            for _ in 0..<3 {
                candidates.append("\(dir)/\(name)")
                dir = (dir as NSString).deletingLastPathComponent
            }
        }
        return candidates.first { access($0, X_OK) == 0 }
    }
}
