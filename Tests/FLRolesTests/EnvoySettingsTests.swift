import Foundation
import Testing
import FLCore
import FLRoles
import FLTesting
import FLWire

/// Reading an Envoy's configuration, and what it checks about its shard before connecting.
@Suite struct EnvoySettingsTests {
    private func write(_ fixture: DirectorFixture, _ name: String, _ old: String, _ new: String) throws {
        let path = fixture.envoyConfigurationPath(name)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard text.contains(old) else { throw ProcessUnderTestError("\(path) has no '\(old)'") }
        try text.replacingOccurrences(of: old, with: new).write(toFile: path, atomically: true, encoding: .utf8)
    }

    private func error(_ body: () throws -> Void) -> String {
        do { try body() } catch { return "\(error)" }
        Issue.record("no error")
        return ""
    }

    @Test func readsTheConfigurationAndResolvesTheShardInsideTheDataFolder() throws {
        let fixture = try DirectorFixture(envoys: ["hospital_a"])
        try write(fixture, "hospital_a", "mode: builtin", "mode: allowlist")
        try write(fixture, "hospital_a", "  name: director\n", "  name: director\n  address: centre.example.org:50050\n")
        let root = fixture.envoyDirectory("hospital_a")
        let s = try EnvoySettings.load(path: fixture.envoyConfigurationPath("hospital_a"), name: "hospital_a")
        #expect(s.director == Endpoint(host: "centre.example.org", port: 50050))
        #expect(s.directorName == "director")
        #expect(s.shardPath.hasSuffix("/hospital_a/data/hospital_a.csv"))
        #expect(s.shard.sampleShape == [30] && s.shard.targetShape == [1] && s.shard.labelColumn == "label" && s.shard.path == "hospital_a.csv")
        #expect(s.policy == .allowList(path: "\(root)/approved.sha256"))
        #expect(s.auditLogPath == "\(root)/audit.jsonl" && s.workDirectory == "\(root)/work" && s.certificateDirectory == "\(root)/cert")
        #expect(s.tls.certificatePath == "\(root)/cert/hospital_a.crt")
        #expect(s.capacity == 1)
        try fixture.setCapacity(3, of: "hospital_a")
        #expect(try EnvoySettings.load(path: fixture.envoyConfigurationPath("hospital_a"), name: "hospital_a").capacity == 3)
        // The command line's --director wins over the file.
        let overridden = try EnvoySettings.load(path: fixture.envoyConfigurationPath("hospital_a"), name: "hospital_a",
                                                director: Endpoint(host: "127.0.0.1", port: 9))
        #expect(overridden.director.port == 9)
        #expect(try EnvoySettings.policy(configuration: fixture.envoyConfigurationPath("hospital_a")) == s.policy)
    }

    @Test func aShardOutsideTheDataFolderIsRefused() throws {
        let fixture = try DirectorFixture(envoys: ["hospital_a"])
        let root = fixture.envoyDirectory("hospital_a")
        let config = fixture.envoyConfigurationPath("hospital_a")
        let endpoint = Endpoint(host: "127.0.0.1", port: 1)
        try "secret\n".write(toFile: "\(root)/secret.csv", atomically: true, encoding: .utf8)
        try write(fixture, "hospital_a", "path: hospital_a.csv", "path: ../secret.csv")
        let up = error { _ = try EnvoySettings.load(path: config, name: "hospital_a", director: endpoint) }
        #expect(up.contains("envoy.yaml:9:9: shard.path: the shard"), "\(up)")
        #expect(up.contains("outside the data folder"), "\(up)")
        // A link inside the data folder pointing out of it is followed, and refused too.
        try FileManager.default.createSymbolicLink(atPath: "\(root)/data/link.csv", withDestinationPath: "\(root)/secret.csv")
        try write(fixture, "hospital_a", "path: ../secret.csv", "path: link.csv")
        #expect(error { _ = try EnvoySettings.load(path: config, name: "hospital_a", director: endpoint) }.contains("outside the data folder"))
        try write(fixture, "hospital_a", "path: link.csv", "path: \(root)/secret.csv")
        #expect(error { _ = try EnvoySettings.load(path: config, name: "hospital_a", director: endpoint) }.contains("outside the data folder"))
        try write(fixture, "hospital_a", "path: \(root)/secret.csv", "path: missing.csv")
        #expect(error { _ = try EnvoySettings.load(path: config, name: "hospital_a", director: endpoint) }.contains("does not exist"))
    }

    @Test func configurationErrorsNameTheSetting() throws {
        let fixture = try DirectorFixture(envoys: ["hospital_a"])
        let config = fixture.envoyConfigurationPath("hospital_a")
        let endpoint = Endpoint(host: "127.0.0.1", port: 1)
        #expect(error { _ = try EnvoySettings.load(path: config, name: "hospital_a") }.contains("no Director address"))
        #expect(error { _ = try EnvoySettings.load(path: config, name: "a/b", director: endpoint) }.contains("--name: invalid name"))
        try write(fixture, "hospital_a", "mode: builtin", "mode: sometimes")
        #expect(error { _ = try EnvoySettings.load(path: config, name: "hospital_a", director: endpoint) }
                    .hasSuffix("envoy.yaml:15:9: policy.mode: expected builtin, allowlist or any, found 'sometimes'"))
        try write(fixture, "hospital_a", "mode: sometimes", "mode: any\n  colour: blue")
        #expect(error { _ = try EnvoySettings.load(path: config, name: "hospital_a", director: endpoint) }
                    .contains("envoy.yaml:16:3: policy.colour: unknown setting"))
        try write(fixture, "hospital_a", "  colour: blue", "")
        try fixture.setCapacity(0, of: "hospital_a")
        #expect(error { _ = try EnvoySettings.load(path: config, name: "hospital_a", director: endpoint) }
                    .hasSuffix("capacity: expected 1 to 256 collaborators at once, found 0"))
    }

    @Test func theShardMustHaveTheColumnsItsShapeDeclares() throws {
        let fixture = try DirectorFixture(envoys: ["hospital_a"])
        let config = fixture.envoyConfigurationPath("hospital_a")
        let endpoint = Endpoint(host: "127.0.0.1", port: 1)
        let logger = Logger(label: "test", sink: MemoryLogSink())
        let good = try Envoy(settings: try EnvoySettings.load(path: config, name: "hospital_a", director: endpoint), logger: logger)
        #expect(good.settings.shard.sampleCount == 190)
        try write(fixture, "hospital_a", "sample_shape: [30]", "sample_shape: [29]")
        #expect(error { _ = try Envoy(settings: try EnvoySettings.load(path: config, name: "hospital_a", director: endpoint), logger: logger) }
                    .contains("has 30 feature columns, but shard.sample_shape [29] says 29"))
        try write(fixture, "hospital_a", "sample_shape: [29]", "sample_shape: [30]")
        try write(fixture, "hospital_a", "label_column: label", "label_column: diagnosis")
        #expect(error { _ = try Envoy(settings: try EnvoySettings.load(path: config, name: "hospital_a", director: endpoint), logger: logger) }
                    .contains("has no label column 'diagnosis'"))
    }
}
