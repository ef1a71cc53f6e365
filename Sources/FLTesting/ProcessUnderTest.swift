#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FLCore

/// A built executable of this package run as a child process by a test. Its standard output and
/// standard error are each read line by line on a thread of their own and kept, so a test can wait
/// (with a deadline) for a line on either; standard error is also copied to a file for failure
/// messages. The process is killed when the test lets go of it.
public final class ProcessUnderTest: @unchecked Sendable {
    public let process: ChildProcess
    public let name: String
    /// Where a copy of the child's standard error is kept.
    public let errorLog: String
    private let output = CollectedLines()
    private let errors = CollectedLines()

    /// Starts `executable` (a product name such as `fx-aggregator`, found beside the test bundle).
    /// With a `launcher` (a command and its arguments, such as `Launcher.limitedDescriptors(64)`),
    /// that command is run with the executable's path and `arguments` after its own; it must `exec`
    /// the executable, so the process is still the one this object watches and kills.
    public convenience init(_ executable: String, _ arguments: [String], name: String? = nil, errorLog: String,
                            environment: [String: String]? = nil, launcher: [String] = []) throws {
        guard let path = ChildProcess.siblingExecutable(executable) else {
            throw ProcessUnderTestError("cannot find the \(executable) executable; build the package with `swift build --build-tests`")
        }
        try self.init(command: launcher + [path] + arguments, name: name ?? executable, errorLog: errorLog, environment: environment)
    }

    /// Starts `command` (an absolute path and its arguments) as it is: for executables that are not
    /// this build's, such as an installed copy.
    public init(command: [String], name: String, errorLog: String, environment: [String: String]? = nil) throws {
        self.name = name
        self.errorLog = errorLog
        _ = FileManager.default.createFile(atPath: errorLog, contents: nil)
        process = try ChildProcess(executable: command[0], arguments: Array(command.dropFirst()), environment: environment,
                                   standardOutput: .pipe, standardError: .pipe)
        output.start(reading: process.standardOutput!, label: "stdout:\(self.name)", copyTo: nil)
        errors.start(reading: process.standardError!, label: "stderr:\(self.name)", copyTo: errorLog)
    }

    deinit { process.kill() }


    /// Every line of standard output so far.
    public var outputLines: [String] { output.lines.map(\.line) }

    /// Every line of standard output so far with the monotonic time (seconds) it was read at.
    public var timedOutputLines: [(time: Double, line: String)] { output.lines }

    /// Every line of standard error so far.
    public var errorLines: [String] { errors.lines.map(\.line) }

    /// The first output line matching `predicate`, waiting up to `timeout` seconds; throws with the
    /// child's standard error when none comes (or the child ends first).
    /// Only lines after the first `skipping` count: what came after something the test saw or did.
    @discardableResult
    public func waitForLine(timeout: Double, skipping: Int = 0, where predicate: (String) -> Bool) throws -> String {
        guard let line = output.wait(timeout: timeout, skipping: skipping, where: predicate) else {
            throw ProcessUnderTestError("\(name): no expected output line within \(timeout) s (\(output.hasEnded ? "it ended" : "still running")); stderr:\n\(errorTail())")
        }
        return line
    }

    /// The first standard-error line (a log line) matching `predicate`, waiting up to `timeout` seconds.
    @discardableResult
    public func waitForErrorLine(timeout: Double, where predicate: (String) -> Bool) throws -> String {
        guard let line = errors.wait(timeout: timeout, where: predicate) else {
            throw ProcessUnderTestError("\(name): no expected log line within \(timeout) s; stderr:\n\(errorTail())")
        }
        return line
    }

    /// Waits until standard output has been read to its end (the child closed it), up to `timeout` seconds.
    public func waitForOutputEnd(timeout: Double) {
        output.waitForEnd(timeout: timeout)
        errors.waitForEnd(timeout: timeout)
    }

    /// Waits up to `timeout` seconds for the exit and for the last of its output; throws with the
    /// standard error if it does not end.
    @discardableResult
    public func waitForExit(timeout: Double) throws -> ChildProcess.Status {
        guard let status = process.wait(timeout: timeout) else {
            throw ProcessUnderTestError("\(name) still running after \(timeout) s; stderr:\n\(errorTail())")
        }
        // Everything it printed is in `outputLines` once this returns.
        waitForOutputEnd(timeout: 10)
        return status
    }

    /// The last lines of standard error, for failure messages.
    public func errorTail(_ count: Int = 30) -> String {
        errors.lines.suffix(count).map(\.line).joined(separator: "\n")
    }
}

/// Lines read from a pipe by a thread of their own, with the monotonic time each arrived.
private final class CollectedLines: @unchecked Sendable {
    private let condition = NSCondition()
    private var collected: [(time: Double, line: String)] = []
    private var ended = false

    func start(reading handle: FileHandle, label: String, copyTo path: String?) {
        let thread = Thread { [self] in read(handle, copyTo: path) }
        thread.name = label
        thread.start()
    }

    private func read(_ handle: FileHandle, copyTo path: String?) {
        let copy = path.flatMap { FileHandle(forWritingAtPath: $0) }
        defer { try? copy?.close() }
        var pending = Data()
        while true {
            let data = handle.availableData
            if data.isEmpty { break }
            copy?.write(data)
            pending.append(data)
            while let newline = pending.firstIndex(of: 0x0A) {
                let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                pending.removeSubrange(pending.startIndex...newline)
                var now = timespec()
                clock_gettime(CLOCK_MONOTONIC, &now)
                condition.lock()
                collected.append((Double(now.tv_sec) + Double(now.tv_nsec) / 1e9, line))
                condition.broadcast()
                condition.unlock()
            }
        }
        condition.lock()
        ended = true
        condition.broadcast()
        condition.unlock()
    }

    var lines: [(time: Double, line: String)] {
        condition.lock()
        defer { condition.unlock() }
        return collected
    }

    var hasEnded: Bool {
        condition.lock()
        defer { condition.unlock() }
        return ended
    }

    func wait(timeout: Double, skipping: Int = 0, where predicate: (String) -> Bool) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let hit = collected.dropFirst(skipping).first(where: { predicate($0.line) }) { return hit.line }
            if ended || !condition.wait(until: deadline) { return collected.dropFirst(skipping).first { predicate($0.line) }?.line }
        }
    }

    func waitForEnd(timeout: Double) {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while !ended && condition.wait(until: deadline) {}
    }
}

/// Commands that run a `ProcessUnderTest` under a constraint and then `exec` it, so the process is
/// still the executable itself: for testing what it does when the machine runs short, without
/// touching the test process.
public enum Launcher {
    /// A lower limit on open file descriptors (soft and hard, so the executable cannot raise it back):
    /// `sh -c 'ulimit -n <count> && exec "$0" "$@"'`.
    public static func limitedDescriptors(_ count: Int) -> [String] {
        ["/bin/sh", "-c", "ulimit -n \(count) && exec \"$0\" \"$@\""]
    }

    /// A limit on the size of any file it writes (`ulimit -f`, rounded down to 512-byte blocks):
    /// writes beyond it fail with EFBIG, as on a full disk, since the executables ignore SIGXFSZ.
    /// No root or mounts needed.
    public static func fileSizeLimit(_ bytes: Int) -> [String] {
        // POSIX `ulimit -f` counts 512-byte blocks (dash, and bash as sh).
        ["/bin/sh", "-c", "ulimit -f \(max(0, bytes / 512)) && exec \"$0\" \"$@\""]
    }

    /// A file system of only `bytes` mounted on `folder` (tmpfs in a user and mount namespace of
    /// its own, through `unshare`): writes there fail with ENOSPC once it is full, as on a real full
    /// disk, while nothing outside changes; what it holds vanishes with the process. Needs
    /// `canMountSmallDisks`. The folder travels as an argument, never inside the script text.
    public static func smallDisk(_ folder: String, bytes: Int) -> [String] {
        ["/usr/bin/unshare", "--user", "--map-root-user", "--mount", "/bin/sh", "-c",
         "mount -t tmpfs -o size=\(bytes) smalldisk \"$0\" && exec \"$@\"", folder]
    }

    /// Whether this machine lets a test mount a small file system for a child (`smallDisk`).
    public static let canMountSmallDisks: Bool = {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare"),
              let probe = try? ChildProcess(executable: "/usr/bin/unshare",
                                            arguments: ["--user", "--map-root-user", "--mount", "/bin/sh", "-c", "mount -t tmpfs -o size=4096 probe /tmp"],
                                            standardOutput: .null, standardError: .null)
        else { return false }
        return probe.wait(timeout: 10)?.isSuccess ?? false
    }()
}

/// A child process that did not do what the test waited for.
public struct ProcessUnderTestError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
