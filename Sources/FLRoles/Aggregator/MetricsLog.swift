import Foundation
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

/// Appends metric records to a JSON-lines file (`logs/metrics.jsonl`), one object per line, so any
/// tool can read the file while it grows; a `JSONLinesFile`, with its crash safety.
public final class MetricsLog: Sendable {
    private let file: JSONLinesFile
    public var path: String { file.path }

    public init(path: String) throws {
        file = try JSONLinesFile(path: path, operation: "open metrics log")
    }

    /// Appends the records, in order, with one write. Metrics are not worth stopping a round for: a
    /// failed write is dropped.
    public func append(_ records: [MetricRecord]) {
        try? file.append(lines: records.map(MetricsLog.line))
    }

    /// The JSON line for one record (no newline); keys in a fixed order so the file diffs well, and a
    /// non-finite value written as `null` (it is not read back: such a record is skipped).
    static func line(_ r: MetricRecord) -> String {
        let value = r.value.isFinite ? "\(r.value)" : "null"
        return "{\"round\":\(r.round),\"origin\":\(JSONText.string(r.origin)),\"task\":\(JSONText.string(r.task)),"
            + "\"metric\":\(JSONText.string(r.metric)),\"value\":\(value)}"
    }

    /// Cuts the log at `path` back to the records of rounds before `round` (and drops a torn last
    /// line), atomically: what a resumed experiment does before it runs `round` again, so no round
    /// appears twice. A missing file is left missing.
    public static func keepRounds(before round: Int, in path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        let decoder = JSONCoding.decoder()
        var kept = ""
        for line in try JSONLinesFile.lines(in: path) {
            guard let record = try? decoder.decode(MetricRecord.self, from: Data(line.utf8)), record.round < round else { continue }
            kept += line + "\n"
        }
        try AtomicFile.write(string: kept, to: path)
    }

    /// Reads every record of a metrics log; a torn last line is dropped, and lines that do not
    /// parse (a non-finite value) are skipped.
    public static func read(_ path: String) throws -> [MetricRecord] {
        let decoder = JSONCoding.decoder()
        return try JSONLinesFile.lines(in: path).compactMap { try? decoder.decode(MetricRecord.self, from: Data($0.utf8)) }
    }
}
