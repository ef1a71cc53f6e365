#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// How much a log line matters.
public enum LogLevel: Int, Sendable, Comparable, CustomStringConvertible {
    case debug = 0, info, warning, error

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
    public var description: String { ["debug", "info", "warning", "error"][rawValue] }

    /// Parses `debug`, `info`, `warning` or `error`.
    public init?(name: String) {
        switch name.lowercased() {
        case "debug": self = .debug
        case "info": self = .info
        case "warning", "warn": self = .warning
        case "error": self = .error
        default: return nil
        }
    }
}

/// Where log lines go. Sinks are shared by every logger of a process, so they lock internally.
public protocol LogSink: Sendable {
    func write(level: LogLevel, label: String, message: String, fields: [String: String])
}

/// A named logger; cheap to copy. Lines carry a timestamp, the level, the component's label, a
/// message, and key-value fields (peer names, rounds) that JSON sinks keep as separate keys.
public struct Logger: Sendable {
    public let label: String
    public let sink: any LogSink
    public let minimumLevel: LogLevel

    public init(label: String, sink: any LogSink = StandardErrorLogSink.shared, minimumLevel: LogLevel = .info) {
        self.label = label
        self.sink = sink
        self.minimumLevel = minimumLevel
    }

    /// The same sink and level under another label.
    public func named(_ label: String) -> Logger { Logger(label: label, sink: sink, minimumLevel: minimumLevel) }

    public func log(_ level: LogLevel, _ message: @autoclosure () -> String, _ fields: [String: String] = [:]) {
        guard level >= minimumLevel else { return }
        sink.write(level: level, label: label, message: message(), fields: fields)
    }

    public func debug(_ message: @autoclosure () -> String, _ fields: [String: String] = [:]) { log(.debug, message(), fields) }
    public func info(_ message: @autoclosure () -> String, _ fields: [String: String] = [:]) { log(.info, message(), fields) }
    public func warning(_ message: @autoclosure () -> String, _ fields: [String: String] = [:]) { log(.warning, message(), fields) }
    public func error(_ message: @autoclosure () -> String, _ fields: [String: String] = [:]) { log(.error, message(), fields) }
}

/// Readable lines on standard error: `2026-11-24T16:40:01.123Z info aggregator: round 3 closed peer=site1`.
/// One event is one line whatever its text holds (a newline in a message or a field is written as
/// `\n`), so journald and `grep` see one record per event. Under systemd, when standard error is
/// the journal's stream (`JOURNAL_STREAM` names it), lines start with the syslog priority (`<6>`
/// for info) instead of a timestamp: journald keeps the level and stamps the time itself.
public final class StandardErrorLogSink: LogSink {
    public static let shared = StandardErrorLogSink()
    private let lock = Mutex(())
    private let descriptor: Int32
    /// Whether lines carry a syslog priority for journald instead of a timestamp.
    public let writesToJournal: Bool

    /// Writes to `descriptor`; `journal` nil finds out from the environment whether it is the journal.
    public init(descriptor: Int32 = 2, journal: Bool? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.descriptor = descriptor
        writesToJournal = journal ?? StandardErrorLogSink.isJournal(descriptor, environment["JOURNAL_STREAM"])
    }

    public func write(level: LogLevel, label: String, message: String, fields: [String: String]) {
        var line = writesToJournal ? "<\(level.syslogPriority)>\(label): " : "\(LogTime.now()) \(level) \(label): "
        line += StandardErrorLogSink.oneLine(message)
        for key in fields.keys.sorted() { line += " \(key)=\(StandardErrorLogSink.oneLine(fields[key]!))" }
        line += "\n"
        var bytes = Array(line.utf8)
        lock.withLock { _ in
            // write(2) rather than the C `stderr` global, which Swift 6 treats as unsafe shared state.
            _ = bytes.withUnsafeMutableBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        }
    }

    static func oneLine(_ text: String) -> String {
        guard text.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else { return text }
        return text.replacingOccurrences(of: "\r\n", with: "\\n").replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r")
    }

    /// systemd sets `JOURNAL_STREAM=<device>:<inode>` for the stream it connected; a descriptor
    /// redirected since (to a file, a pipe) no longer matches and gets timestamps again.
    static func isJournal(_ descriptor: Int32, _ stream: String?) -> Bool {
        guard let stream else { return false }
        let parts = stream.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return false }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }
}

extension LogLevel {
    /// The syslog priority journald reads from a `<N>` prefix.
    public var syslogPriority: Int {
        switch self {
        case .debug: 7
        case .info: 6
        case .warning: 4
        case .error: 3
        }
    }
}

/// JSON lines appended to a file, one object per line with `time`, `level`, `label`, `message` and the fields.
/// A `JSONLinesFile`, with its crash safety; a line that cannot be written is dropped (logging
/// must not stop the process).
public final class JSONLinesLogSink: LogSink {
    private let file: JSONLinesFile
    private let next: (any LogSink)?

    /// Appends to `path`, creating it; `next` also receives every line (e.g. standard error).
    public init(path: String, next: (any LogSink)? = StandardErrorLogSink.shared) throws {
        file = try JSONLinesFile(path: path, operation: "open log")
        self.next = next
    }

    public func write(level: LogLevel, label: String, message: String, fields: [String: String]) {
        var object: [String: String] = fields
        object["time"] = LogTime.now()
        object["level"] = level.description
        object["label"] = label
        object["message"] = message
        try? file.append([object])
        next?.write(level: level, label: label, message: message, fields: fields)
    }
}

/// Collects lines in memory; tests use it to check that a refusal was logged.
public final class MemoryLogSink: LogSink {
    public struct Line: Sendable {
        public var level: LogLevel
        public var label: String
        public var message: String
        public var fields: [String: String]
    }
    private let storage = Mutex<[Line]>([])
    public init() {}
    public func write(level: LogLevel, label: String, message: String, fields: [String: String]) {
        storage.withLock { $0.append(Line(level: level, label: label, message: message, fields: fields)) }
    }
    public var lines: [Line] { storage.withLock { $0 } }
}

enum LogTime {
    /// ISO 8601 UTC with milliseconds, without allocating a formatter per line.
    static func now() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = time_t(ts.tv_sec)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(ts.tv_nsec / 1_000_000))
    }
}
