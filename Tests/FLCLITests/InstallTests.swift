import Foundation
import Testing
@testable import FLCLI
import FLCore
import FLTesting

/// `make install` of the release build: executables that need no Swift libraries, and a federation
/// run from the installed copy alone (another folder, a PATH of only its bin/, no SWIFTFL_HOME, and
/// the source tree hidden behind an empty mount where the machine allows it).
///
/// `swift test` holds SwiftPM's lock on `.build`, so the test cannot build; `make test` builds the
/// release first, and the test installs it with `make -o release install`.
@Suite struct InstallTests {
    static let repository = (try? DirectorFixture.findRepository()) ?? ""
    static let releaseBuilt = FileManager.default.isExecutableFile(atPath: "\(repository)/.build/release/fx")
    static let executables = ["fx", "fx-aggregator", "fx-collaborator"]

    /// Runs `command` to its end (within `timeout` s) and returns its standard output; throws with
    /// its error output when it fails.
    @discardableResult
    static func run(_ command: [String], in folder: TemporaryDirectory, environment: [String: String]? = nil, timeout: Double = 120) throws -> String {
        let process = try ProcessUnderTest(command: command, name: (command[0] as NSString).lastPathComponent,
                                           errorLog: folder.appending("run-\(UUID().uuidString.prefix(8)).stderr"), environment: environment)
        let status = try process.waitForExit(timeout: timeout)
        guard status.isSuccess else { throw ProcessUnderTestError("\(command.joined(separator: " ")): \(status)\n\(process.errorTail())") }
        return process.outputLines.joined(separator: "\n")
    }

    /// The shared libraries `binary` names (readelf's NEEDED entries).
    static func neededLibraries(_ binary: String, in folder: TemporaryDirectory) throws -> [String] {
        try run(["/usr/bin/readelf", "-d", binary], in: folder).split(separator: "\n").compactMap { line in
            guard line.contains("(NEEDED)"), let open = line.firstIndex(of: "["), let close = line.lastIndex(of: "]") else { return nil }
            return String(line[line.index(after: open)..<close])
        }
    }

    @Test(.enabled(if: releaseBuilt, "needs the release build in .build/release: `make test` makes it first (or run `make release`)"))
    func anInstalledCopyRunsAFederationWithoutTheToolchainOrTheSourceTree() throws {
        let stage = try TemporaryDirectory(prefix: "swiftfl-install")
        try InstallTests.run(["/usr/bin/make", "-C", InstallTests.repository, "-o", "release", "install",
                              "DESTDIR=\(stage.path)", "PREFIX=/opt/swiftfl"], in: stage, timeout: 300)
        let bin = stage.appending("opt/swiftfl/bin")
        #expect(FileManager.default.fileExists(atPath: stage.appending("opt/swiftfl/share/swiftfl/plans/defaults/aggregator.yaml")))
        #expect(FileManager.default.fileExists(atPath: stage.appending("opt/swiftfl/share/swiftfl/workspaces/breast_cancer/plan/plan.yaml")))

        // Only the C library, the C++ runtime and OpenSSL: no Swift runtime, Foundation or Dispatch.
        for executable in InstallTests.executables {
            let needed = try InstallTests.neededLibraries("\(bin)/\(executable)", in: stage)
            #expect(needed.contains("libssl.so.3") && needed.contains("libc.so.6"), "\(executable): \(needed)")
            let swift = needed.filter { ["libswift", "libFoundation", "lib_Foundation", "libdispatch", "libBlocksRuntime"].contains(where: $0.hasPrefix) }
            #expect(swift.isEmpty, "\(executable) needs \(swift)")
            let resolved = try InstallTests.run(["/usr/bin/ldd", "\(bin)/\(executable)"], in: stage)
            #expect(!resolved.contains("not found") && !resolved.contains("libswift"), "\(executable):\n\(resolved)")
        }

        // Every command runs from `work` with a PATH of only the installed bin/; where the machine lets
        // this test make a mount namespace, the source tree is an empty folder for it.
        let work = stage.appending("work")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let environment = ["PATH": bin, "HOME": work]
        let hides = (try? InstallTests.run(["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                                            "/bin/mount -t tmpfs -o size=1m swiftfl-hidden \"$1\" && ! test -e \"$1/Package.swift\"",
                                            "sh", InstallTests.repository], in: stage, timeout: 30)) != nil
        if !hides { print("InstallTests: cannot make a mount namespace here (needs root and unshare); the source tree stays visible, unused") }
        func command(_ arguments: [String]) -> [String] {
            hides
                ? ["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                   "/bin/mount -t tmpfs -o size=1m swiftfl-hidden \"$1\" && cd \"$2\" && shift 2 && exec fx \"$@\"",
                   "sh", InstallTests.repository, work] + arguments
                : ["/bin/sh", "-c", "cd \"$1\" && shift && exec fx \"$@\"", "sh", work] + arguments
        }
        @discardableResult func fx(_ arguments: [String]) throws -> String { try InstallTests.run(command(arguments), in: stage, environment: environment) }

        #expect(try fx(["--version"]).hasPrefix("SwiftFL \(BuildInfo.version) (commit "))
        try fx(["workspace", "create", "--prefix", "ws", "--template", "breast_cancer"])
        let workspace = "\(work)/ws"
        let plan = "\(workspace)/plan/plan.yaml"
        try (try String(contentsOfFile: plan, encoding: .utf8)).replacingOccurrences(of: "rounds_to_train: 10", with: "rounds_to_train: 3")
            .write(toFile: plan, atomically: true, encoding: .utf8)
        try "collaborators:\n  - hospital_a\n  - hospital_b\n".write(toFile: "\(workspace)/plan/cols.yaml", atomically: true, encoding: .utf8)
        try fx(["pki", "init", "--dir", "ws/cert/ca"])
        try fx(["pki", "certify", "--name", "aggregator", "--role", "aggregator", "--host", "127.0.0.1", "--ca-dir", "ws/cert/ca", "--dir", "ws/cert"])
        for site in ["hospital_a", "hospital_b"] {
            try fx(["pki", "certify", "--name", site, "--role", "envoy", "--ca-dir", "ws/cert/ca", "--dir", "ws/cert"])
        }
        try fx(["plan", "initialize", "--workspace", "ws"])

        let aggregator = try ProcessUnderTest(command: command(["aggregator", "start", "--workspace", "ws", "--port", "0", "--events"]),
                                              name: "aggregator", errorLog: stage.appending("aggregator.stderr"), environment: environment)
        defer { aggregator.process.kill() }
        let listening = try aggregator.waitForLine(timeout: 60) { EventLine.matches($0, "listening") }
        let port = try #require(EventLine(listening)?.int("port"))
        // `fx aggregator start` became the installed fx-aggregator (same process).
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(aggregator.process.pid)/exe") == "\(bin)/fx-aggregator")
        let collaborators = try ["hospital_a", "hospital_b"].map { site in
            try ProcessUnderTest(command: command(["collaborator", "start", "--workspace", "ws", "--name", site, "--aggregator", "127.0.0.1:\(port)"]),
                                 name: site, errorLog: stage.appending("\(site).stderr"), environment: environment)
        }
        defer { for collaborator in collaborators { collaborator.process.kill() } }
        #expect(try aggregator.waitForExit(timeout: 120) == .exited(0), "\(aggregator.errorTail())")
        for collaborator in collaborators { #expect(try collaborator.waitForExit(timeout: 60) == .exited(0), "\(collaborator.errorTail())") }
        let finished = try #require(aggregator.outputLines.compactMap(EventLine.init).first { $0.event == "finished" })
        #expect(finished.fields["metrics"]?.asMapping?.keys.contains { $0.hasPrefix("aggregated_model_validation") } == true, "\(finished.fields)")
        #expect(FileManager.default.fileExists(atPath: "\(workspace)/save/last.safetensors"))
        let inspected = try fx(["model", "inspect", "ws/save/last.safetensors"])
        #expect(inspected.contains("dense_0.weight"), "\(inspected)")
    }
}
