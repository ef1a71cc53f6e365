#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import FLCore

/// One measured value: which round, who measured it (a collaborator, or `aggregator` for the
/// sample-weighted aggregate), in which task, and the metric's name and value.
public struct MetricRecord: Sendable, Hashable, Codable {
    public var round: Int
    public var origin: String
    public var task: String
    public var metric: String
    public var value: Double

    public init(round: Int, origin: String, task: String, metric: String, value: Double) {
        self.round = round
        self.origin = origin
        self.task = task
        self.metric = metric
        self.value = value
    }
}

/// Appends metric records to a JSON-lines file (`logs/metrics.jsonl`), one object per line, so a
/// crash loses at most the line being written and any tool can read the file while it grows.
public final class MetricsLog: Sendable {
    private let fd: Mutex<Int32>
    public let path: String

    public init(path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError(path: path, operation: "open metrics log", errno: errno) }
        self.fd = Mutex(fd)
        self.path = path
    }

    deinit { fd.withLock { _ = close($0) } }

    /// Appends the records, in order, with one write.
    public func append(_ records: [MetricRecord]) {
        guard !records.isEmpty else { return }
        var text = ""
        for r in records { text += MetricsLog.line(r) }
        let bytes = Array(text.utf8)
        fd.withLock { fd in
            bytes.withUnsafeBytes { raw in try? FileDescriptorIO.writeAll(fd, raw, path: path) }
        }
    }

    /// The JSON line for one record; keys in a fixed order so the file diffs well.
    static func line(_ r: MetricRecord) -> String {
        let value = r.value.isFinite ? "\(r.value)" : "null"
        return "{\"round\":\(r.round),\"origin\":\(JSONText.string(r.origin)),\"task\":\(JSONText.string(r.task)),"
            + "\"metric\":\(JSONText.string(r.metric)),\"value\":\(value)}\n"
    }

    /// Cuts the log at `path` back to the records of rounds before `round` (and drops a torn last
    /// line), atomically: what a resumed experiment does before it runs `round` again, so no round
    /// appears twice. A missing file is left missing.
    public static func keepRounds(before round: Int, in path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let decoder = JSONCoding.decoder()
        var kept = ""
        for line in text.split(separator: "\n") {
            guard let record = try? decoder.decode(MetricRecord.self, from: Data(line.utf8)), record.round < round else { continue }
            kept += line + "\n"
        }
        try AtomicFile.write(string: kept, to: path)
    }

    /// Reads every record of a metrics log; lines that do not parse are skipped (a torn last line).
    public static func read(_ path: String) throws -> [MetricRecord] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let decoder = JSONCoding.decoder()
        return text.split(separator: "\n").compactMap { try? decoder.decode(MetricRecord.self, from: Data($0.utf8)) }
    }
}
