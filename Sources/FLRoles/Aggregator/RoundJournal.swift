import Foundation
import FLCore
import FLWire

/// Every closed round's summary, one JSON line each (the `round_closed` event's line), kept in the
/// checkpoint folder and written with each checkpoint, before its `state.json`. On a resume it is cut
/// back to the rounds the checkpoint holds and read out again (`AggregatorEvent.roundRecovered`), so
/// a follower that missed a round's event before a crash (the Director, killed with its aggregator)
/// still learns of it, and a round run again after the checkpoint is never counted twice.
struct RoundJournal: Sendable {
    /// `rounds.jsonl` in the checkpoint folder.
    let path: String

    init(checkpointDirectory: String) {
        path = "\(checkpointDirectory)/rounds.jsonl"
    }

    /// Appends `summary` (durably: it is written before the checkpoint that counts the round).
    func append(_ summary: RoundInfo) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError(path: path, operation: "open the round journal", errno: errno) }
        defer { close(fd) }
        try FileDescriptorIO.writeAll(fd, Data((AggregatorEvent.roundClosed(summary).jsonLine + "\n").utf8), path: path)
        guard fsync(fd) == 0 else { throw FileError(path: path, operation: "fsync", errno: errno) }
    }

    /// Cuts the journal back to rounds before `round` (atomically) and returns what is kept, in order.
    /// A torn last line is dropped; a missing journal is an empty one.
    func keepRounds(before round: Int) throws -> [RoundInfo] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var kept: [RoundInfo] = []
        var lines = ""
        for line in text.split(separator: "\n") {
            guard case let .roundClosed(summary)? = AggregatorEvent(jsonLine: line), summary.round < round else { continue }
            kept.append(summary)
            lines += line + "\n"
        }
        try AtomicFile.write(string: lines, to: path)
        return kept
    }
}
