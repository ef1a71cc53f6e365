import Foundation
import Testing
import FLCore
import FLTesting

/// `make demo` is one of the two commands the README promises: its script runs here against this
/// build (in a temporary folder), so a change that breaks it fails a test, not a new user.
@Suite struct DemoScriptTests {
    @Test func theDemoRunsAFederationAndScoresItsModel() throws {
        let repository = try DirectorFixture.findRepository()
        let folder = try TemporaryDirectory(prefix: "swiftfl-demo")
        let build = ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "") as NSString
        // The test bundle lives in the build folder (…/debug/SwiftFLPackageTests.xctest); fx beside it.
        guard let fx = ChildProcess.siblingExecutable("fx") else { throw ProcessUnderTestError("no fx beside \(build)") }
        let bin = (fx as NSString).deletingLastPathComponent
        let relative = bin.hasPrefix(repository + "/") ? String(bin.dropFirst(repository.count + 1)) : bin
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFTFL_DEMO_DIR"] = folder.appending("demo")
        let demo = try ProcessUnderTest(command: ["/bin/bash", "\(repository)/scripts/demo.sh", relative], name: "demo",
                                        errorLog: folder.appending("demo.stderr"), environment: environment)
        #expect(try demo.waitForExit(timeout: 300) == .exited(0), "\(demo.errorTail())\n\(demo.outputLines.suffix(20).joined(separator: "\n"))")
        let output = demo.outputLines.joined(separator: "\n")
        #expect(output.contains("== 5. the best model on every row of the data"))
        let accuracy = demo.outputLines.first { $0.hasPrefix("final aggregated validation accuracy: ") }
            .flatMap { Double($0.dropFirst("final aggregated validation accuracy: ".count)) }
        #expect((accuracy ?? 0) > 0.9, "\(output.suffix(600))")
    }
}
