import Foundation
import Testing
@testable import FLCLI
import FLRoles
import FLTesting
import FLWire

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

    /// `fx envoy list`: each Envoy's capacity and how many collaborators run there, as the
    /// Director knows them ("-" where it does not, as from an older Director); `--json` gives the
    /// capacity and the experiments running, beside the Envoy's other fields.
    @Test func theListShowsEachEnvoysCapacityAndRunningCollaborators() throws {
        let shard = ShardDescriptor(path: "a.csv", labelColumn: "label", sampleShape: [30], targetShape: [1], sampleCount: 190)
        let envoys = ["a", "b", "c"].map {
            EnvoyInfo(name: $0, shard: shard, online: $0 != "c", lastHeartbeatAge: nil, currentExperiment: "", collaboratorRunning: false,
                      cpuPercent: 0, residentBytes: 0, availableBytes: 0, registeredAt: 0)
        }
        let list = EnvoyListReply(envoys: envoys, heartbeatPeriod: 1, slots: [
            EnvoySlots(capacity: 2, running: ["x", "y"]), EnvoySlots(capacity: 1, running: nil), EnvoySlots(capacity: nil, running: nil),
        ])
        func columns(_ rows: [[String]]) throws -> [[String]] {
            let capacity = try #require(rows.first?.firstIndex(of: "CAPACITY")), running = try #require(rows.first?.firstIndex(of: "RUNNING"))
            return rows.dropFirst().map { [$0[0], $0[capacity], $0[running]] }
        }
        #expect(try columns(EnvoyCommands.rows(list)) == [["a", "2", "2"], ["b", "1", "-"], ["c", "-", "-"]])
        let older = EnvoyListReply(envoys: envoys, heartbeatPeriod: 1)
        #expect(try columns(EnvoyCommands.rows(older)) == [["a", "-", "-"], ["b", "-", "-"], ["c", "-", "-"]])

        let json = try JSONSerialization.jsonObject(with: Data(try DirectorConnection.jsonText(EnvoyCommands.EnvoyTable(list)).utf8))
        let rows = try #require((json as? [String: Any])?["envoys"] as? [[String: Any]])
        #expect(rows.map { $0["name"] as? String } == ["a", "b", "c"])
        #expect(rows.map { $0["online"] as? Bool } == [true, true, false])
        #expect(rows.map { $0["capacity"] as? Int } == [2, 1, nil])
        #expect(rows.map { $0["running"] as? [String] } == [["x", "y"], nil, nil])
        #expect(rows.allSatisfy { ($0["shard"] as? [String: Any])?["sampleShape"] as? [Int] == [30] })
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
