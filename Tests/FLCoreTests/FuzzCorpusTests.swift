import Foundation
import Testing
import FLCore

/// Replays the committed plan and safetensors corpora (seeds, and in `regressions/` every input a
/// fuzzer once crashed on) through `PlanFuzzTarget.run` and `SafetensorsFuzzTarget.run`, the
/// functions `fx-fuzz plan` and `fx-fuzz safetensors` drive.
@Suite struct FuzzCorpusTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("FuzzCorpus").path

    /// Every regular file under `Tests/FuzzCorpus/<target>`, subfolders included, sorted.
    static func files(of target: String) throws -> [String] {
        var files: [String] = []
        for relative in try FileManager.default.subpathsOfDirectory(atPath: "\(root)/\(target)") {
            let path = "\(root)/\(target)/\(relative)"
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
                files.append(path)
            }
        }
        return files.sorted()
    }

    /// Runs every input of `target`'s corpus through `run` (a finding is an issue) and returns each
    /// input's file, name and bytes for the target's own checks.
    static func replay(_ target: String, _ run: ([UInt8]) throws(FuzzFinding) -> Void) throws -> [(file: String, name: String, bytes: [UInt8])] {
        let files = try FuzzCorpusTests.files(of: target)
        try #require(!files.isEmpty, "Tests/FuzzCorpus/\(target) holds no inputs")
        return try files.map { file in
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
            do { try run(bytes) } catch { Issue.record("\(file): \(error)") }
            return (file, (file as NSString).lastPathComponent, bytes)
        }
    }

    @Test func replayPlanCorpus() throws {
        var shippedPlans = 0
        for (file, name, bytes) in try Self.replay("plan", { (bytes: [UInt8]) throws(FuzzFinding) in try PlanFuzzTarget.run(bytes) }) {
            // Copies of the plans shipped in plans/ and workspaces/ must parse, or the round trips
            // above were never exercised on real plans.
            if name.hasPrefix("plans-") || name.hasPrefix("workspaces-") {
                shippedPlans += 1
                #expect(throws: Never.self, "\(name)") { try YAMLParser.parse(bytes: bytes, file: file) }
            }
        }
        #expect(shippedPlans > 0, "the plan corpus holds no copy of a shipped plan")
    }

    /// Every input goes through the fuzz target; `model-…` seeds must read as models and `header-…`
    /// seeds as headers, so a format change cannot leave the fuzzer starting from stale seeds.
    @Test func replaySafetensorsCorpus() throws {
        var wellFormed = 0
        for (file, name, bytes) in try Self.replay("safetensors", { (bytes: [UInt8]) throws(FuzzFinding) in try SafetensorsFuzzTarget.run(bytes) }) {
            if name.hasPrefix("model-") {
                wellFormed += 1
                #expect(throws: Never.self, "\(name)") { try Safetensors.decode(Data(bytes), source: file) }
            } else if name.hasPrefix("header-") {
                wellFormed += 1
                #expect(throws: Never.self, "\(name)") { try SafetensorsHeader.decode(bytes, path: file) }
            } else if name.hasPrefix("edge-") {
                #expect(throws: SafetensorsError.self, "\(name)") { try SafetensorsHeader.decode(bytes, path: file).modelLayout() }
            }
        }
        #expect(wellFormed > 0, "Tests/FuzzCorpus/safetensors holds no well-formed seed")
    }
}
