import FLCore
import FLTesting
import Foundation
import Testing

@Suite struct JSONLinesFileTests {
    struct Record: Codable, Equatable {
        var n: Int
        var text: String
    }

    @Test func appendsWholeLinesAndCreatesTheFolder() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.appending("logs/deep/records.jsonl")
        let file = try JSONLinesFile(path: path, permissions: 0o640)
        try file.append([Record(n: 1, text: "a/b"), Record(n: 2, text: "é\n")])
        try file.append(lines: [])
        try file.append(lines: [#"{"n":3,"text":""}"#])
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data("{\"n\":1,\"text\":\"a/b\"}\n{\"n\":2,\"text\":\"é\\n\"}\n{\"n\":3,\"text\":\"\"}\n".utf8))
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o640)
        // A second writer (a reopened file) appends after what is there.
        try JSONLinesFile(path: path).append([Record(n: 4, text: "")])
        let records = try JSONLinesFile.lines(in: path).map { try JSONCoding.decoder().decode(Record.self, from: Data($0.utf8)) }
        #expect(records.map(\.n) == [1, 2, 3, 4])
    }

    @Test func concurrentAppendsNeverInterleave() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = try JSONLinesFile(path: directory.appending("many.jsonl"))
        let long = String(repeating: "x", count: 5000)
        DispatchQueue.concurrentPerform(iterations: 64) { i in try? file.append([Record(n: i, text: long), Record(n: i + 1000, text: long)]) }
        let records = try JSONLinesFile.lines(in: file.path).map { try JSONCoding.decoder().decode(Record.self, from: Data($0.utf8)) }
        #expect(records.count == 128)
        #expect(Set(records.map(\.n)) == Set((0..<64).flatMap { [$0, $0 + 1000] }))
        // One append's lines stay together.
        for pair in stride(from: 0, to: records.count, by: 2) { #expect(records[pair + 1].n == records[pair].n + 1000) }
    }

    @Test func aTornLastLineIsDropped() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.appending("torn.jsonl")
        // Cut inside "é" (0xC3 0xA9): the torn piece is not even UTF-8.
        try Data("{\"n\":1}\n\n{\"n\":2}\n{\"text\":\"\u{C3}".utf8.dropLast()).write(to: URL(fileURLWithPath: path))
        #expect(try JSONLinesFile.lines(in: path) == [#"{"n":1}"#, #"{"n":2}"#])
        try Data().write(to: URL(fileURLWithPath: path))
        #expect(try JSONLinesFile.lines(in: path).isEmpty)
        #expect(throws: (any Error).self) { try JSONLinesFile.lines(in: directory.appending("missing.jsonl")) }
    }

    @Test func anUnopenableFileIsAFileError() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let error = #expect(throws: FileError.self) { try JSONLinesFile(path: directory.path, operation: "open the test log") }
        #expect(error?.path == directory.path)
        #expect(error?.operation == "open the test log")
    }
}
