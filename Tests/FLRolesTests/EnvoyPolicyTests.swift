import Foundation
import Testing
import FLCore
import FLRoles
import FLTesting

/// A site's allow-list of archives (`fx envoy approve`) and its audit log.
@Suite struct EnvoyPolicyTests {
    static let digestA = String(repeating: "ab", count: 32)
    static let digestB = String(repeating: "0f", count: 32)

    @Test func approvingAddsADigestOnceAtomically() throws {
        let dir = try TemporaryDirectory(prefix: "swiftfl-allowlist")
        let path = dir.appending("site/approved.sha256")
        #expect(try ArchiveAllowList.load(path).digests.isEmpty)  // no file: nothing approved
        #expect(try ArchiveAllowList.approve(Self.digestA.uppercased(), in: path, comment: "first plan"))
        #expect(try ArchiveAllowList.approve(Self.digestB, in: path))
        #expect(try !ArchiveAllowList.approve(Self.digestA, in: path))
        let list = try ArchiveAllowList.load(path)
        #expect(list.digests == [Self.digestA, Self.digestB])
        #expect(list.contains(Self.digestA.uppercased()))
        #expect(!list.contains(String(repeating: "00", count: 32)))
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.components(separatedBy: Self.digestA).count == 2)
        #expect(text.contains("first plan"))
        // Written through a temporary file and a rename: none is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.appending("site")) == ["approved.sha256"])
    }

    @Test func malformedDigestsAreRefusedWithTheirLine() throws {
        let dir = try TemporaryDirectory(prefix: "swiftfl-allowlist")
        let path = dir.appending("approved.sha256")
        #expect(throws: EnvoyError.self) { try ArchiveAllowList.approve("abc", in: path) }
        #expect(throws: EnvoyError.self) { try ArchiveAllowList.approve(String(repeating: "g", count: 64), in: path) }
        #expect(!FileManager.default.fileExists(atPath: path))
        try "# comment\n\n\(Self.digestA)  # ok\nnot-a-digest\n".write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: EnvoyError.self) { try ArchiveAllowList.load(path) }
        #expect(error?.description == "\(path):4: expected a SHA-256 (64 hex digits), found 'not-a-digest'")
    }

    @Test func theAuditLogKeepsOneWholeLinePerRecord() throws {
        let dir = try TemporaryDirectory(prefix: "swiftfl-audit")
        let path = dir.appending("logs/audit.jsonl")
        let log = try AuditLog(path: path)
        try log.append(AuditRecord(time: Date(timeIntervalSince1970: 0), experiment: "first", sha256: Self.digestA, decision: .accepted))
        try log.append(AuditRecord(experiment: "second", sha256: Self.digestB, decision: .refused, reason: "not in the allow-list"))
        // Appends from many threads never interleave within a line.
        DispatchQueue.concurrentPerform(iterations: 64) { i in
            try? log.append(AuditRecord(experiment: "run-\(i)", sha256: Self.digestA, decision: .finished, reason: String(repeating: "x", count: 3000),
                                        exitStatus: "exited with status \(i % 2)", launch: 1))
        }
        let records = try AuditLog.read(path)
        #expect(records.count == 66)
        #expect(records[0].time == "1970-01-01T00:00:00Z" && records[0].decision == .accepted && records[0].exit_status == nil)
        #expect(records[1].experiment == "second" && records[1].decision == .refused && records[1].reason == "not in the allow-list")
        #expect(Set(records.dropFirst(2).map(\.experiment)).count == 64)
        #expect(records.dropFirst(2).allSatisfy { $0.launch == 1 && $0.exit_status?.hasPrefix("exited with status") == true })
        let firstLine = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")[0]
        #expect(firstLine == "{\"decision\":\"accepted\",\"experiment\":\"first\",\"launch\":0,\"reason\":\"\",\"sha256\":\"\(Self.digestA)\",\"time\":\"1970-01-01T00:00:00Z\"}")
    }
}
