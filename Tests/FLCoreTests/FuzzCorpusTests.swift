import Foundation
import Testing
import FLCore

/// Replays the committed plan corpus (seeds, and in `regressions/` every input a fuzzer once
/// crashed on) through `PlanFuzzTarget.run`, the function `fx-fuzz plan` drives.
@Suite struct FuzzCorpusTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("FuzzCorpus/plan").path

    @Test func replayPlanCorpus() throws {
        var files: [String] = []
        for relative in try FileManager.default.subpathsOfDirectory(atPath: FuzzCorpusTests.folder) {
            let path = "\(FuzzCorpusTests.folder)/\(relative)"
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
                files.append(path)
            }
        }
        try #require(!files.isEmpty, "Tests/FuzzCorpus/plan holds no inputs")
        var shippedPlans = 0
        for file in files.sorted() {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
            do {
                try PlanFuzzTarget.run(bytes)
            } catch {
                Issue.record("\(file): \(error)")
            }
            // Copies of the plans shipped in plans/ and workspaces/ must parse, or the round trips
            // above were never exercised on real plans.
            let name = (file as NSString).lastPathComponent
            if name.hasPrefix("plans-") || name.hasPrefix("workspaces-") {
                shippedPlans += 1
                #expect(throws: Never.self, "\(name)") { try YAMLParser.parse(bytes: bytes, file: file) }
            }
        }
        #expect(shippedPlans > 0, "the plan corpus holds no copy of a shipped plan")
    }
}
