import Foundation
import Testing
import FLWire
@testable import FLRoles

/// `/metrics` text for a known snapshot: every family, labelled samples and the histogram's
/// cumulative buckets, compared line by line as Prometheus would read them.
@Suite struct PrometheusExpositionTests {
    static func envoy(_ name: String, online: Bool, cpu: Double) -> EnvoyInfo {
        EnvoyInfo(name: name, shard: ShardDescriptor(path: "data.csv", labelColumn: "y", sampleShape: [30], targetShape: [1], sampleCount: 10), online: online, lastHeartbeatAge: 1,
                  currentExperiment: "", collaboratorRunning: false, cpuPercent: cpu, residentBytes: 1000, availableBytes: 5000, registeredAt: 0)
    }

    /// The samples of the text: `name{labels}` → value; comments left out.
    static func samples(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let cut = line.lastIndex(of: " ")!
            out[String(line[..<cut])] = String(line[line.index(after: cut)...])
        }
        return out
    }

    @Test func rendersEveryFamily() {
        let rounds = [0.5, 3, 20, 7200].enumerated().map { i, d in
            RoundInfo(round: i, finalValidation: false, attempt: 0, metrics: [:], reported: [], missing: [], duration: d, best: false)
        } + [RoundInfo(round: 4, finalValidation: true, attempt: 0, metrics: [:], reported: [], missing: [], duration: 99, best: false)]
        let x = ExperimentInfo(name: "a", status: .running, archiveSHA256: "", archiveSize: 0, submittedBy: "u", submittedAt: 0,
                               roundsToTrain: 5, roundsCompleted: 4, rounds: rounds)
        let y = ExperimentInfo(name: "b", status: .queued, archiveSHA256: "", archiveSize: 0, submittedBy: "u", submittedAt: 0)
        let snapshot = DashboardSnapshot(envoys: [Self.envoy("h\"a", online: true, cpu: 12.5), Self.envoy("hb", online: false, cpu: 0)],
                                         experiments: [x, y], bytesReceived: 10240, bytesSent: 20480, updatesRejected: 2)
        let text = PrometheusExposition.render(snapshot)
        let s = Self.samples(text)
        #expect(s["swiftfl_envoys{state=\"online\"}"] == "1" && s["swiftfl_envoys{state=\"offline\"}"] == "1")
        #expect(s["swiftfl_experiments{state=\"running\"}"] == "1" && s["swiftfl_experiments{state=\"queued\"}"] == "1")
        #expect(s["swiftfl_experiments{state=\"failed\"}"] == "0")
        #expect(s["swiftfl_rounds_completed_total"] == "4")
        #expect(s["swiftfl_round_duration_seconds_bucket{le=\"1\"}"] == "1")
        #expect(s["swiftfl_round_duration_seconds_bucket{le=\"5\"}"] == "2")
        #expect(s["swiftfl_round_duration_seconds_bucket{le=\"30\"}"] == "3")
        #expect(s["swiftfl_round_duration_seconds_bucket{le=\"3600\"}"] == "3")
        #expect(s["swiftfl_round_duration_seconds_bucket{le=\"+Inf\"}"] == "4")
        #expect(s["swiftfl_round_duration_seconds_count"] == "4" && s["swiftfl_round_duration_seconds_sum"] == "7223.5")
        #expect(s["swiftfl_bytes_received_total"] == "10240" && s["swiftfl_bytes_sent_total"] == "20480")
        #expect(s["swiftfl_updates_rejected_total"] == "2")
        #expect(s["swiftfl_envoy_cpu_percent{envoy=\"h\\\"a\"}"] == "12.5")
        #expect(s["swiftfl_envoy_up{envoy=\"hb\"}"] == "0")
        #expect(s["swiftfl_envoy_available_bytes{envoy=\"hb\"}"] == "5000")
        // Each family is announced once, before its samples.
        let types = text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }
        #expect(types.count == Set(types).count && types.count == 11)
    }
}
