import Foundation
import Testing
import FLCore
import FLRoles
import FLTesting
import FLWire

/// What a reload (SIGHUP) puts into force at once and what it leaves for a restart, per role.
@Suite struct ConfigurationReloadTests {
    func edit(_ path: String, _ change: (String) -> String) throws {
        try change(try String(contentsOfFile: path, encoding: .utf8)).write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test func theDirectorTakesItsListsAndTimingsAtOnceAndReportsTheRest() throws {
        let fixture = try DirectorFixture(envoys: [])
        let config = fixture.directorConfigurationPath
        let logs = MemoryLogSink()
        let director = try Director(settings: try DirectorSettings.load(path: config), logger: Logger(label: "director", sink: logs))
        #expect(director.reload(try DirectorSettings.load(path: config)) == ConfigurationReload())

        try edit(config) { text in
            text.replacingOccurrences(of: "decision_timeout: 20.0\n", with: "decision_timeout: 7\n  allowed: [hospital_a]\n  minimum: 2\n")
                .replacingOccurrences(of: "  port: 0\n", with: "  port: 6000\n")
                + "users:\n  allowed: [alice, bob]\n"
        }
        let result = director.reload(try DirectorSettings.load(path: config))
        #expect(Set(result.applied) == ["envoys.decision_timeout", "envoys.allowed", "envoys.minimum", "users.allowed"])
        #expect(result.needsRestart == ["listen.port"])
        let now = director.settings
        #expect(now.decisionTimeout == 7 && now.minimumEnvoys == 2)
        #expect(now.allowedEnvoys == ["hospital_a"] && now.allowedUsers == ["alice", "bob"])
        #expect(now.port == 0, "the listening port changed under a running server")
        #expect(logs.lines.contains { $0.message.contains("changed but in force only after a restart: listen.port") })
    }

    @Test func theEnvoyTakesItsPolicyAndLimitsAtOnceAndReportsTheRest() throws {
        let fixture = try DirectorFixture(envoys: ["hospital_a"])
        let config = fixture.envoyConfigurationPath("hospital_a")
        let endpoint = Endpoint(host: "127.0.0.1", port: 1)
        let envoy = try Envoy(settings: try EnvoySettings.load(path: config, name: "hospital_a", director: endpoint),
                              logger: Logger(label: "hospital_a", sink: MemoryLogSink()))
        // The row count the Envoy found in its shard is not a change of the configuration.
        #expect(envoy.reload(try EnvoySettings.load(path: config, name: "hospital_a", director: endpoint)) == ConfigurationReload())

        try edit(config) { text in
            text.replacingOccurrences(of: "mode: builtin", with: "mode: allowlist")
                .replacingOccurrences(of: "work_dir: work", with: "work_dir: elsewhere")
                + "limits:\n  max_model_parameters: 5000\n"
        }
        let result = envoy.reload(try EnvoySettings.load(path: config, name: "hospital_a", director: endpoint))
        #expect(result.applied == ["policy", "limits.max_model_parameters"])
        #expect(result.needsRestart == ["work_dir"])
        #expect(envoy.settings.policy == .allowList(path: fixture.allowListPath("hospital_a")))
        #expect(envoy.settings.maximumModelParameters == 5000)
        #expect(envoy.settings.workDirectory == "\(fixture.envoyDirectory("hospital_a"))/work")
        #expect(envoy.settings.shard.sampleCount == 190)
    }

    @Test func theSummarySaysWhatChangedAndWhatWaits() {
        var reload = ConfigurationReload()
        #expect(reload.description == "no setting that can change while running changed")
        reload.applied = ["policy"]
        reload.needsRestart = ["work_dir", "cert_dir"]
        #expect(reload.description == "now in force: policy; changed but in force only after a restart: work_dir, cert_dir")
    }
}
