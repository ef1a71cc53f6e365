import Foundation
import Testing
@testable import FLCLI
import FLRoles
import FLTesting

/// `fx envoy approve` and the usage errors of the commands that talk to a Director, run in process.
@Suite struct EnvoyCommandsTests {
    static let digest = String(repeating: "9e", count: 32)

    private func run(_ words: [String], in directory: String, environment: [String: String] = [:]) -> (Int32, CapturedOutput) {
        let (console, output) = Console.capturing()
        let status = FX.command.main(words, context: CommandContext(console: console, environment: environment, currentDirectory: directory))
        return (status, output)
    }

    @Test func approveAddsToTheAllowListTheConfigurationNames() throws {
        let dir = try TemporaryDirectory(prefix: "swiftfl-approve")
        try "policy:\n  mode: allowlist\n  allowlist: lists/approved.sha256\n".write(toFile: dir.appending("envoy.yaml"), atomically: true, encoding: .utf8)
        let (status, output) = run(["envoy", "approve", Self.digest, "--comment", "breast cancer v1"], in: dir.path)
        #expect(status == 0, "\(output.standardError)")
        #expect(output.standardOutput == "approved \(Self.digest) in \(dir.path)/lists/approved.sha256\n")
        #expect(try ArchiveAllowList.load(dir.appending("lists/approved.sha256")).digests == [Self.digest])
        let (again, second) = run(["envoy", "approve", Self.digest.uppercased(), "--config", "envoy.yaml"], in: dir.path)
        #expect(again == 0)
        #expect(second.standardOutput.contains("was already approved"))
        let (bad, refused) = run(["envoy", "approve", "not-a-digest"], in: dir.path)
        #expect(bad == 1)
        #expect(refused.standardError.contains("is not a SHA-256"))
    }

    @Test func approvingUnderAnAnyPolicyOrWithoutAConfigurationIsAnError() throws {
        let dir = try TemporaryDirectory(prefix: "swiftfl-approve")
        try "policy:\n  mode: any\n".write(toFile: dir.appending("envoy.yaml"), atomically: true, encoding: .utf8)
        let (status, output) = run(["envoy", "approve", Self.digest], in: dir.path)
        #expect(status == 64)
        #expect(output.standardError.contains("the site's policy is 'any'"))
        let (missing, error) = run(["envoy", "approve", Self.digest, "--config", "other.yaml"], in: dir.path)
        #expect(missing == 1)
        #expect(error.standardError.contains("other.yaml: no such file"))
    }

    @Test func clientCommandsSayWhatIsMissing() throws {
        let dir = try TemporaryDirectory(prefix: "swiftfl-client")
        let (noDirector, a) = run(["envoy", "list"], in: dir.path)
        #expect(noDirector == 64 && a.standardError.contains("missing --director HOST:PORT (or set SWIFTFL_DIRECTOR)"))
        let (noIdentity, b) = run(["experiment", "list", "--director", "127.0.0.1:1"], in: dir.path)
        #expect(noIdentity == 64 && b.standardError.contains("missing --identity NAME"))
        let (badEndpoint, c) = run(["experiment", "list"], in: dir.path, environment: ["SWIFTFL_DIRECTOR": "nowhere", "USER": "alice"])
        #expect(badEndpoint == 64 && c.standardError.contains("--director expects HOST:PORT, got 'nowhere'"))
        let (both, d) = run(["experiment", "model", "x", "--best", "--last", "--director", "127.0.0.1:1", "--identity", "alice"], in: dir.path)
        #expect(both == 64 && d.standardError.contains("--best and --last exclude each other"))
        let (noName, e) = run(["experiment", "submit", "--director", "127.0.0.1:1"], in: dir.path)
        #expect(noName == 64 && e.standardError.contains("missing --name NAME"))
        // No certificate where the options say: a plain error, exit status 1.
        let (noCertificate, f) = run(["experiment", "list", "--director", "127.0.0.1:1", "--identity", "alice", "--cert-dir", "nowhere"], in: dir.path)
        #expect(noCertificate == 1 && f.standardError.contains("nowhere"), "\(f.standardError)")
    }
}
