import Foundation
import Testing
import FLCore
import FLWire
@testable import FLRoles
import FLTesting

/// The round journal and the metrics log are cut back to the rounds a checkpoint holds.
@Suite struct RoundJournalTests {
    static func summary(_ round: Int, final: Bool = false) -> RoundInfo {
        RoundInfo(round: round, finalValidation: final, attempt: 0, metrics: ["t/accuracy": Double(round) / 10], reported: ["a", "b"], missing: [],
                  duration: 0.5, best: round == 1)
    }

    @Test func keepsTheRoundsBeforeTheCheckpointInOrder() throws {
        let dir = try TemporaryDirectory(prefix: "swiftfl-journal")
        let journal = RoundJournal(checkpointDirectory: dir.appending("checkpoint"))
        #expect(try journal.keepRounds(before: 5).isEmpty, "a missing journal is empty")
        for round in 0..<4 { try journal.append(Self.summary(round)) }
        // A torn last line (a crash mid-write) is dropped.
        let handle = try #require(FileHandle(forWritingAtPath: journal.path))
        handle.seekToEndOfFile()
        handle.write(Data("{\"event\":\"round_cl".utf8))
        try handle.close()
        let kept = try journal.keepRounds(before: 3)
        #expect(kept == [Self.summary(0), Self.summary(1), Self.summary(2)])
        #expect(try journal.keepRounds(before: 3) == kept, "cutting again changes nothing")
        try journal.append(Self.summary(3, final: true))
        #expect(try journal.keepRounds(before: 4).last == Self.summary(3, final: true))
        #expect(try journal.keepRounds(before: 0).isEmpty)
    }

    /// A diverged metric is written as "nan" and read back as NaN: the round is kept, not dropped
    /// as a line that does not parse.
    @Test func keepsARoundWithANonFiniteMetric() throws {
        let dir = try TemporaryDirectory(prefix: "swiftfl-journal")
        let journal = RoundJournal(checkpointDirectory: dir.appending("checkpoint"))
        var diverged = Self.summary(0)
        diverged.metrics = ["t/loss": .nan, "t/accuracy": -.infinity]
        try journal.append(diverged)
        let kept = try journal.keepRounds(before: 1)
        try #require(kept.count == 1)
        #expect(kept[0].metrics["t/loss"]?.isNaN == true)
        #expect(kept[0].metrics["t/accuracy"] == -.infinity)
    }

    @Test func theMetricsLogIsCutBackTheSameWay() throws {
        let dir = try TemporaryDirectory(prefix: "swiftfl-journal")
        let path = dir.appending("logs/metrics.jsonl")
        let log = try MetricsLog(path: path)
        for round in 0..<4 {
            log.append([MetricRecord(round: round, origin: "aggregator", task: "t", metric: "accuracy", value: Double(round))])
        }
        try MetricsLog.keepRounds(before: 2, in: path)
        #expect(try MetricsLog.read(path).map(\.round) == [0, 1])
        try MetricsLog.keepRounds(before: 0, in: dir.appending("missing.jsonl"))
        #expect(!FileManager.default.fileExists(atPath: dir.appending("missing.jsonl")))
    }
}
