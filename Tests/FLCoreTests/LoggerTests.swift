#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import FLCore
import FLTesting

@Suite struct LoggerTests {
    /// Writes through a sink made for the write end of a pipe and returns what came out.
    func written(journal: Bool?, environment: (Int32) -> [String: String] = { _ in [:] },
                 _ body: (StandardErrorLogSink) -> Void) throws -> (String, StandardErrorLogSink) {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let sink = StandardErrorLogSink(descriptor: fds[1], journal: journal, environment: environment(fds[1]))
        body(sink)
        close(fds[1])
        let reader = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true)
        return (String(decoding: reader.readDataToEndOfFile(), as: UTF8.self), sink)
    }

    @Test func oneEventIsOneLineWhateverItsTextHolds() throws {
        let (text, _) = try written(journal: false) { sink in
            sink.write(level: .error, label: "director", message: "cannot load plan.yaml:\n  line 3: bad\r\nend",
                       fields: ["peer": "a\nb", "round": "3"])
            sink.write(level: .info, label: "envoy", message: "plain", fields: [:])
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 3 && lines[2].isEmpty, "\(text)")
        #expect(lines[0].hasSuffix(" error director: cannot load plan.yaml:\\n  line 3: bad\\nend peer=a\\nb round=3"), "\(lines[0])")
        #expect(lines[0].first?.isNumber == true)
        #expect(lines[1].hasSuffix(" info envoy: plain"))
    }

    @Test func theJournalGetsPrioritiesInsteadOfTimestamps() throws {
        let (text, _) = try written(journal: true) { sink in
            for level in [LogLevel.debug, .info, .warning, .error] { sink.write(level: level, label: "x", message: "\(level)", fields: [:]) }
        }
        #expect(text == "<7>x: debug\n<6>x: info\n<4>x: warning\n<3>x: error\n")
    }

    @Test func theJournalIsRecognisedByTheDeviceAndInodeOfTheStream() throws {
        func identity(_ fd: Int32) -> String {
            var status = stat()
            _ = fstat(fd, &status)
            return "\(status.st_dev):\(status.st_ino)"
        }
        let (_, matching) = try written(journal: nil, environment: { ["JOURNAL_STREAM": identity($0)] }) { _ in }
        #expect(matching.writesToJournal)
        // Standard error redirected elsewhere keeps the variable but not the stream.
        let (_, other) = try written(journal: nil, environment: { ["JOURNAL_STREAM": identity($0) + "1"] }) { _ in }
        #expect(!other.writesToJournal)
        let (_, unset) = try written(journal: nil) { _ in }
        #expect(!unset.writesToJournal)
        let (_, malformed) = try written(journal: nil, environment: { _ in ["JOURNAL_STREAM": "journal"] }) { _ in }
        #expect(!malformed.writesToJournal)
    }

    /// The JSON sink appends one object per event to its file, the fields as keys of their own,
    /// and passes the event on.
    @Test func theJSONSinkAppendsOneObjectPerEvent() throws {
        let directory = try TemporaryDirectory()
        let memory = MemoryLogSink()
        let sink = try JSONLinesLogSink(path: directory.appending("logs/fx.jsonl"), next: memory)
        sink.write(level: .warning, label: "aggregator", message: "round 1/2:\n closed", fields: ["peer": "site_a"])
        sink.write(level: .info, label: "envoy", message: "é", fields: [:])
        let objects = try JSONLinesFile.lines(in: directory.appending("logs/fx.jsonl")).map {
            try JSONCoding.decoder().decode([String: String].self, from: Data($0.utf8))
        }
        try #require(objects.count == 2)
        #expect(objects[0].filter { $0.key != "time" } == ["level": "warning", "label": "aggregator", "message": "round 1/2:\n closed", "peer": "site_a"])
        #expect(objects[1].filter { $0.key != "time" } == ["level": "info", "label": "envoy", "message": "é"])
        #expect(objects.allSatisfy { $0["time"]?.count == "2026-11-24T16:40:01.123Z".count })
        #expect(memory.lines.map(\.message) == ["round 1/2:\n closed", "é"])
    }
}
