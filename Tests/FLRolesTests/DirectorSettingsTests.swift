import Foundation
import Testing
import FLCore
import FLRoles
import FLTesting
import FLWire

/// Reading a Director's configuration: values, defaults, and errors that say where and what.
@Suite struct DirectorSettingsTests {
    private func load(_ text: String) throws -> (DirectorSettings, String) {
        let dir = try TemporaryDirectory(prefix: "swiftfl-director-settings")
        let path = dir.appending("director.yaml")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { withExtendedLifetime(dir) {} }
        return (try DirectorSettings.load(path: path), dir.path)
    }

    /// The error `load` throws for `text`, as text.
    private func failure(_ text: String) throws -> String {
        let dir = try TemporaryDirectory(prefix: "swiftfl-director-settings")
        let path = dir.appending("director.yaml")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try DirectorSettings.load(path: path)
        } catch {
            return "\(error)".replacingOccurrences(of: dir.path + "/", with: "")
        }
        Issue.record("no error for:\n\(text)")
        return ""
    }

    static let minimal = """
        federation:
          sample_shape: [30]
          target_shape: [1]

        """

    @Test func readsEverySettingAndResolvesPathsAgainstTheFile() throws {
        let (s, dir) = try load("""
            listen:
              host: 0.0.0.0
              port: 51000
            federation:
              sample_shape: [28, 28]
              target_shape: [1]
            envoys:
              heartbeat_period: 2.5
              minimum: 2
              startup_grace: 0
              decision_timeout: 15
              allowed: [hospital_a, hospital_b]
            users:
              allowed: [alice]
            state_dir: var/state
            certificates:
              dir: /etc/swiftfl/cert
              name: centre
            aggregators:
              host: 0.0.0.0
              address: fl.example.org
              port: 50051
            """)
        #expect(s.host == "0.0.0.0" && s.port == 51000)
        #expect(s.sampleShape == [28, 28] && s.targetShape == [1])
        #expect(s.heartbeatPeriod == 2.5 && s.offlineAfter == 7.5)
        #expect(s.minimumEnvoys == 2 && s.startupGrace == 0 && s.decisionTimeout == 15)
        #expect(s.allowedEnvoys == ["hospital_a", "hospital_b"] && s.allowedUsers == ["alice"])
        #expect(s.stateDirectory == "\(dir)/var/state")
        #expect(s.certificateDirectory == "/etc/swiftfl/cert" && s.name == "centre")
        #expect(s.tls.certificatePath == "/etc/swiftfl/cert/centre.crt" && s.tls.releaseIdleBuffers)
        #expect(s.aggregatorHost == "0.0.0.0" && s.aggregatorAddress == "fl.example.org" && s.aggregatorPort == 50051)
        #expect(s.aggregatorPorts == nil && s.aggregatorPortRange == 50051...50051)
    }

    @Test func concurrentExperimentsAndTheirPortRange() throws {
        let (s, _) = try load(Self.minimal + "experiments:\n  max_concurrent: 8\naggregators:\n  ports: 50100-50119\n")
        #expect(s.maximumConcurrent == 8 && s.aggregatorPorts == 50100...50119 && s.aggregatorPortRange == 50100...50119)
        let (one, _) = try load(Self.minimal + "aggregators:\n  ports: 50100\n")
        #expect(one.aggregatorPortRange == 50100...50100)
        #expect(try failure(Self.minimal + "aggregators:\n  ports: 50119-50100\n")
                .hasSuffix("aggregators.ports: expected a port range such as 50100-50119 (ports 1 to 65535, the first not above the last), found '50119-50100'"))
        #expect(try failure(Self.minimal + "aggregators:\n  ports: 50100-50119\n  port: 50051\n")
                .hasSuffix("aggregators.port: give aggregators.ports or aggregators.port, not both"))
        #expect(try failure(Self.minimal + "experiments:\n  max_concurrent: 0\n")
                .hasSuffix("experiments.max_concurrent: expected 1 to 1000 experiments at once, found 0"))
    }

    /// Plain HTTP on a loopback address only; elsewhere the dashboard needs `dashboard.tls`.
    @Test func theDashboardListensOnLoopbackOrOverTLS() throws {
        let (local, _) = try load(Self.minimal + "dashboard:\n  listen: 127.0.0.1:9090\n")
        #expect(local.dashboardListen == Endpoint(host: "127.0.0.1", port: 9090) && !local.dashboardTLS)
        let (wide, _) = try load(Self.minimal + "dashboard:\n  listen: 0.0.0.0:9443\n  tls: true\n")
        #expect(wide.dashboardListen == Endpoint(host: "0.0.0.0", port: 9443) && wide.dashboardTLS)
        #expect(try load(Self.minimal).0.dashboardListen == nil)
        #expect(try failure(Self.minimal + "dashboard:\n  listen: 0.0.0.0:9090\n")
                .hasPrefix("director.yaml:5:11: dashboard.listen: '0.0.0.0:9090' is not a loopback address"))
        #expect(try failure(Self.minimal + "dashboard:\n  listen: nowhere\n")
                .hasSuffix("dashboard.listen: expected HOST:PORT such as 127.0.0.1:9090, found 'nowhere'"))
    }

    @Test func defaultsForEverythingButTheShapes() throws {
        let (s, dir) = try load(Self.minimal)
        #expect(s.host == "127.0.0.1" && s.port == 50050 && s.heartbeatPeriod == 5 && s.minimumEnvoys == 1)
        #expect(s.allowedEnvoys == nil && s.allowedUsers == nil)
        #expect(s.stateDirectory == "\(dir)/state" && s.certificateDirectory == "\(dir)/cert" && s.name == "director")
        #expect(s.aggregatorHost == "127.0.0.1" && s.aggregatorAddress == "127.0.0.1" && s.aggregatorPort == 0)
        #expect(s.aggregatorPortRange == nil && s.maximumConcurrent == DirectorSettings.defaultMaximumConcurrent)
    }

    @Test func errorsNameTheFileLineColumnAndSetting() throws {
        #expect(try failure("federation:\n  sample_shape: [30, x]\n  target_shape: [1]\n")
                == "director.yaml:2:22: federation.sample_shape.1: expected a positive integer dimension, found string \"x\"")
        #expect(try failure("federation:\n  target_shape: [1]\n") == "director.yaml: federation.sample_shape is missing (expected a sequence)")
        #expect(try failure(Self.minimal + "envoys:\n  heartbeat_perod: 5\n")
                .hasPrefix("director.yaml:5:3: envoys.heartbeat_perod: unknown setting (expected one of: heartbeat_period,"))
        #expect(try failure(Self.minimal + "envoys:\n  heartbeat_period: -1\n")
                == "director.yaml:5:21: envoys.heartbeat_period: expected a positive number of seconds, found -1.0")
        #expect(try failure(Self.minimal + "listen:\n  port: 70000\n") == "director.yaml:5:9: listen.port: expected a port from 0 to 65535, found 70000")
        #expect(try failure(Self.minimal + "aggregators:\n  host: 0.0.0.0\n")
                .hasPrefix("director.yaml:5:9: aggregators.host: Envoys cannot dial '0.0.0.0'"))
        #expect(try failure(Self.minimal + "users:\n  allowed: [alice, ../bob]\n").hasPrefix("director.yaml:5:20: users.allowed.1: invalid name"))
        #expect(try failure("federation:\n\tsample_shape: [1]\n").hasPrefix("director.yaml:2:1: "))
        #expect(try failure("federation:\n  sample_shape: []\n  target_shape: [1]\n")
                == "director.yaml:2:17: federation.sample_shape: expected 1 to 8 dimensions, found 0")
    }

    @Test func aMissingFileSaysSo() throws {
        #expect(throws: PlanError.self) { try DirectorSettings.load(path: "/nonexistent/director.yaml") }
    }
}
