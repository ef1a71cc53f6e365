#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FLCore

/// A built executable of this package run as a child process by a test: its standard output is read
/// line by line on a thread of its own and kept, so a test can wait (with a deadline) for a line;
/// its standard error goes to a file for the failure message. It is killed when the test lets go.
public final class ProcessUnderTest: @unchecked Sendable {
    public let process: ChildProcess
    public let name: String
    /// Where the child's standard error is kept.
    public let errorLog: String
    private let condition = NSCondition()
    private var lines: [String] = []
    private var arrivals: [Double] = []
    private var ended = false

    /// Starts `executable` (a product name such as `fx-aggregator`, found beside the test bundle).
    public init(_ executable: String, _ arguments: [String], name: String? = nil, errorLog: String,
                environment: [String: String]? = nil) throws {
        guard let path = ChildProcess.siblingExecutable(executable) else {
            throw ProcessUnderTestError("cannot find the \(executable) executable; build the package with `swift build --build-tests`")
        }
        self.name = name ?? executable
        self.errorLog = errorLog
        process = try ChildProcess(executable: path, arguments: arguments, environment: environment,
                                   standardOutput: .pipe, standardError: .file(errorLog))
        let reader = Thread { [self] in readLines() }
        reader.name = "stdout:\(self.name)"
        reader.start()
    }

    deinit { process.kill() }

    private func readLines() {
        guard let handle = process.standardOutput else { return }
        var pending = Data()
        while true {
            let data = handle.availableData
            if data.isEmpty { break }
            pending.append(data)
            while let newline = pending.firstIndex(of: 0x0A) {
                let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                pending.removeSubrange(pending.startIndex...newline)
                var now = timespec()
                clock_gettime(CLOCK_MONOTONIC, &now)
                condition.lock()
                lines.append(line)
                arrivals.append(Double(now.tv_sec) + Double(now.tv_nsec) / 1e9)
                condition.broadcast()
                condition.unlock()
            }
        }
        condition.lock()
        ended = true
        condition.broadcast()
        condition.unlock()
    }

    /// Every line of standard output so far.
    public var outputLines: [String] {
        condition.lock()
        defer { condition.unlock() }
        return lines
    }

    /// Every line of standard output so far with the monotonic time (seconds) it was read at.
    public var timedOutputLines: [(time: Double, line: String)] {
        condition.lock()
        defer { condition.unlock() }
        return Array(zip(arrivals, lines))
    }

    /// The first output line matching `predicate`, waiting up to `timeout` seconds; throws with the
    /// child's standard error when none comes (or the child ends first).
    @discardableResult
    public func waitForLine(timeout: Double, where predicate: (String) -> Bool) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let line = lines.first(where: predicate) { return line }
            if ended || !condition.wait(until: deadline) {
                if let line = lines.first(where: predicate) { return line }
                throw ProcessUnderTestError("\(name): no expected line within \(timeout) s (\(ended ? "it ended" : "still running")); stderr:\n\(errorTail())")
            }
        }
    }

    /// Waits until standard output has been read to its end (the child closed it), up to `timeout` seconds.
    public func waitForOutputEnd(timeout: Double) {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while !ended && condition.wait(until: deadline) {}
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
        let text = (try? String(contentsOfFile: errorLog, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(count).joined(separator: "\n")
    }
}

/// A child process that did not do what the test waited for.
public struct ProcessUnderTestError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
