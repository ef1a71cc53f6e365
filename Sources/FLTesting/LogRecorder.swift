import Foundation
import FLCore

/// A log sink for tests that keeps every line (in a `MemoryLogSink`) and lets a test wait, with a
/// deadline, for a line that another thread will log, instead of sleeping and hoping.
public final class LogRecorder: LogSink, @unchecked Sendable {
    /// Every line written, in order.
    public let memory = MemoryLogSink()
    // Signalled on every line; waiters re-check under the condition's lock.
    private let condition = NSCondition()

    /// An empty recorder.
    public init() {}

    public func write(level: LogLevel, label: String, message: String, fields: [String: String]) {
        condition.lock()
        memory.write(level: level, label: label, message: message, fields: fields)
        condition.broadcast()
        condition.unlock()
    }

    /// Every line so far.
    public var lines: [MemoryLogSink.Line] { memory.lines }

    /// A logger writing here.
    public func logger(label: String = "test", minimumLevel: LogLevel = .debug) -> Logger {
        Logger(label: label, sink: self, minimumLevel: minimumLevel)
    }

    /// The first line matching `predicate`, waiting up to `timeout` seconds for it; nil if none came.
    public func waitForLine(timeout: Double = 10, where predicate: (MemoryLogSink.Line) -> Bool) -> MemoryLogSink.Line? {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let line = memory.lines.first(where: predicate) { return line }
            if !condition.wait(until: deadline) { return memory.lines.first(where: predicate) }
        }
    }

    /// The first line whose message contains `text`, waiting up to `timeout` seconds.
    public func waitForLine(containing text: String, timeout: Double = 10) -> MemoryLogSink.Line? {
        waitForLine(timeout: timeout) { $0.message.contains(text) }
    }
}
