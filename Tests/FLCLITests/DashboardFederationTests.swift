import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import FLCore
import FLTesting
import FLWire

/// The dashboard of a real Director (`fx director start` with `dashboard.listen`) with two real
/// Envoys and an experiment: `/metrics` read back by Python's prometheus_client, the page read as
/// XML for its Envoys and experiment, and `fx experiment plot` drawing the experiment's rounds.
@Suite(.serialized) struct DashboardFederationTests {
    /// Whether python3 can import prometheus_client (`pip install prometheus_client`; .ci/run does).
    static let prometheusClient: Bool = {
        guard !PythonInterop.skipped else { return false }
        return (try? PythonInterop.run(["-c", "import prometheus_client"], timeout: 60).status.isSuccess) ?? false
    }()


    /// `text` read as XML, which it must be.
    static func parse(_ text: String) -> XMLElements {
        let elements = XMLElements.parse(text)
        #expect(elements.problem == nil, "\(elements.problem ?? "")")
        return elements
    }

    /// Starts a Director with a dashboard on a free loopback port and two Envoys, runs one experiment
    /// of `rounds` rounds to its end; returns the fixture, the Director's and the dashboard's ports.
    static func federation(rounds: Int) throws -> (DirectorFixture, ProcessUnderTest, port: Int, dashboard: Int, envoys: [ProcessUnderTest]) {
        let fixture = try DirectorFixture(envoys: ["hospital_a", "hospital_b"])
        let configuration = try String(contentsOfFile: fixture.directorConfigurationPath, encoding: .utf8)
        try fixture.writeDirectorConfiguration(configuration + "dashboard:\n  listen: 127.0.0.1:0\n")
        let (director, port) = try fixture.startDirector()
        let line = try director.waitForLine(timeout: 30) { $0.contains("\"event\":\"dashboard_listening\"") }
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let dashboard = try #require(object["port"] as? Int)
        let envoys = try ["hospital_a", "hospital_b"].map { try fixture.startEnvoy($0, port: port) }
        for name in ["hospital_a", "hospital_b"] {
            try DirectorFixture.waitForEvent("envoy_registered", ["envoy": name], in: director, timeout: 30)
        }
        let workspace = try fixture.makeWorkspace("first", rounds: rounds)
        try fixture.fx(["experiment", "submit", "--workspace", workspace, "--name", "first"] + fixture.clientOptions(port: port))
        try DirectorFixture.waitForEvent("experiment_finished", ["experiment": "first"], in: director, timeout: 120)
        return (fixture, director, port, dashboard, envoys)
    }

    @Test func metricsPageAndPlotOfARealFederation() throws {
        let (fixture, _, port, dashboard, envoys) = try Self.federation(rounds: 3)
        withExtendedLifetime(envoys) {}
        let client = fixture.clientOptions(port: port)
        let status = try #require(try JSONSerialization.jsonObject(with: Data(try fixture.fx(["experiment", "status", "first", "--json"] + client).utf8))
                                  as? [String: Any])
        #expect(status["status"] as? String == "succeeded")
        let archiveSize = try #require(status["archiveSize"] as? Int)
        let rounds = try #require(status["rounds"] as? [[String: Any]]).filter { $0["finalValidation"] as? Bool != true && $0["bestValidation"] as? Bool != true }
        #expect(rounds.count == 3)
        let metricNames = Set(rounds.flatMap { ($0["metrics"] as? [String: Double] ?? [:]).keys }).sorted()
        #expect(!metricNames.isEmpty)

        // /metrics, checked here for the figures the federation must show.
        let metrics = try HTTPFetch.get(port: dashboard, path: "/metrics")
        #expect(metrics.status == 200 && metrics.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        let lines = Set(metrics.body.split(separator: "\n").map(String.init))
        #expect(lines.contains("swiftfl_envoys{state=\"online\"} 2"))
        #expect(lines.contains("swiftfl_experiments{state=\"succeeded\"} 1"))
        #expect(lines.contains("swiftfl_rounds_completed_total 3"))
        #expect(lines.contains("swiftfl_round_duration_seconds_count 3"))
        // Every byte of the Director's connections counts: at least the archive in, and out once per site.
        func total(_ name: String) -> Int? { lines.first { $0.hasPrefix(name + " ") }.flatMap { Int($0.dropFirst(name.count + 1)) } }
        #expect((total("swiftfl_bytes_received_total") ?? 0) > archiveSize)
        #expect((total("swiftfl_bytes_sent_total") ?? 0) > 2 * archiveSize)
        #expect(lines.contains { $0.hasPrefix("swiftfl_envoy_cpu_percent{envoy=\"hospital_a\"} ") })

        // The page: well-formed, one row per Envoy, the experiment with its chart, a line per metric.
        let page = try HTTPFetch.get(port: dashboard, path: "/")
        #expect(page.status == 200)
        let elements = Self.parse(page.body)
        #expect(elements.found.filter { $0.attributes["class"] == "envoy" }.compactMap { $0.attributes["data-envoy"] } == ["hospital_a", "hospital_b"])
        #expect(elements.found.contains { $0.attributes["data-experiment"] == "first" })
        #expect(elements.found.first { $0.attributes["class"] == "current-round" && $0.attributes["data-experiment"] == "first" }?.attributes["data-completed"] == "3")
        #expect(elements.found.filter { $0.name == "polyline" && $0.attributes["data-series"] != nil }.count == metricNames.count)
        #expect(try HTTPFetch.get(port: dashboard, path: "/nothing").status == 404)

        // fx experiment plot through the Director: one line per metric, three points each.
        let svgPath = fixture.directory.appending("first.svg")
        try fixture.fx(["experiment", "plot", "first", "--output", svgPath] + client)
        let svg = Self.parse(try String(contentsOfFile: svgPath, encoding: .utf8))
        let lines2 = svg.found.filter { $0.name == "polyline" }
        #expect(lines2.compactMap { $0.attributes["data-series"] } == metricNames)
        for line in lines2 { #expect(line.attributes["points"]?.split(separator: " ").count == 3) }

        try parseWithPrometheusClient(metrics.body, in: fixture)
    }

    /// `dashboard.tls: true` on any address: HTTPS with the Director's certificate, for user and admin
    /// certificates only; an Envoy's certificate gets 403 naming its role, and no certificate no page.
    @Test func overTLSOnlyUsersAndAdminsSeeTheDashboard() throws {
        let fixture = try DirectorFixture(envoys: ["hospital_a"])
        let configuration = try String(contentsOfFile: fixture.directorConfigurationPath, encoding: .utf8)
        try fixture.writeDirectorConfiguration(configuration + "dashboard:\n  listen: 0.0.0.0:0\n  tls: true\n")
        let (director, _) = try fixture.startDirector()
        let line = try director.waitForLine(timeout: 30) { $0.contains("\"event\":\"dashboard_listening\"") }
        let dashboard = try #require((try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["port"] as? Int)
        let alice = TLSConfiguration(certificateDirectory: fixture.userCertificateDirectory("alice"), name: "alice")
        let metrics = try HTTPFetch.get(port: dashboard, path: "/metrics", tls: alice)
        #expect(metrics.status == 200)
        #expect(metrics.body.split(separator: "\n").contains("swiftfl_envoys{state=\"online\"} 0"))
        let envoy = TLSConfiguration(certificateDirectory: fixture.envoyDirectory("hospital_a") + "/cert", name: "hospital_a")
        let refused = try HTTPFetch.get(port: dashboard, path: "/", tls: envoy)
        #expect(refused.status == 403)
        #expect(refused.body.contains("holds a certificate of role envoy"))
        #expect(throws: (any Error).self) { try HTTPFetch.get(port: dashboard, path: "/") }
    }

    /// A plain-HTTP dashboard on a non-loopback address is refused at start, naming the setting.
    @Test func plainHTTPOffLoopbackIsRefused() throws {
        let fixture = try DirectorFixture(envoys: [])
        let configuration = try String(contentsOfFile: fixture.directorConfigurationPath, encoding: .utf8)
        try fixture.writeDirectorConfiguration(configuration + "dashboard:\n  listen: 0.0.0.0:0\n")
        let result = try fixture.fxStatus(["director", "start", "--config", fixture.directorConfigurationPath])
        #expect(!result.status.isSuccess)
        #expect(result.error.contains("dashboard.listen: '0.0.0.0:0' is not a loopback address"), "\(result.error)")
    }

    /// prometheus_client's own parser reads the exposition, with every family's type and the samples checked above.
    func parseWithPrometheusClient(_ text: String, in fixture: DirectorFixture) throws {
        guard Self.prometheusClient else {
            // Visible in the test log: the rest of the test ran; only the Python half is missing.
            print("SKIPPED: python3 with prometheus_client is not available (pip install prometheus_client); /metrics not parsed by it")
            return
        }
        let file = fixture.directory.appending("metrics.txt")
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let output = try PythonInterop.check(["\(PythonInterop.interopDirectory)/prometheus_interop.py", file])
        let families = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: [String: Any]])
        #expect(families["swiftfl_round_duration_seconds"]?["type"] as? String == "histogram")
        #expect(families["swiftfl_rounds_completed"]?["type"] as? String == "counter")
        #expect(families["swiftfl_envoys"]?["type"] as? String == "gauge")
        var values: [String: Double] = [:]
        for family in families.values {
            for case let sample as [Any] in family["samples"] as? [Any] ?? [] {
                let labels = (sample[1] as? [String: String] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                values["\(sample[0])\(labels.isEmpty ? "" : "{\(labels)}")"] = sample[2] as? Double
            }
        }
        #expect(values["swiftfl_envoys{state=online}"] == 2)
        #expect(values["swiftfl_rounds_completed_total"] == 3)
        #expect(values["swiftfl_round_duration_seconds_bucket{le=+Inf}"] == 3)
        #expect(values["swiftfl_envoy_up{envoy=hospital_b}"] == 1)
    }
}
