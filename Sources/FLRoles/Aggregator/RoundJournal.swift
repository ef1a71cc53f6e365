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
        // Opened for each append and closed at once: `keepRounds` replaces the file, which a kept
        // descriptor would go on writing to.
        try JSONLinesFile(path: path, operation: "open the round journal").append(lines: [AggregatorEvent.roundClosed(summary).jsonLine])
    }

    /// Cuts the journal back to rounds before `round` (atomically) and returns what is kept, in order.
    /// A torn last line is dropped; a missing journal is an empty one.
    func keepRounds(before round: Int) throws -> [RoundInfo] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        var kept: [RoundInfo] = []
        var lines = ""
        for line in try JSONLinesFile.lines(in: path) {
            guard case let .roundClosed(summary)? = AggregatorEvent(jsonLine: line), summary.round < round else { continue }
            kept.append(summary)
            lines += line + "\n"
        }
        try AtomicFile.write(string: lines, to: path)
        return kept
    }
}
