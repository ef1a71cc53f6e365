import Foundation
import FLWire

/// The Director's figures in the Prometheus text exposition format (version 0.0.4): Envoys online
/// and offline, experiments by state, rounds completed, a histogram of round durations, bytes
/// received and sent, updates rejected, and each Envoy's CPU and memory from its last heartbeat.
///
/// Totals over experiments (rounds, durations) are computed from every experiment the Director
/// keeps, so they only grow, as counters must. Bytes are counted by the Director where it handles
/// them itself: archives submitted (received) and archives sent to Envoys (sent); frames of other
/// messages and models downloaded are not counted.
public enum PrometheusExposition {
    /// Upper bounds of the round-duration buckets, in seconds.
    public static let durationBuckets: [Double] = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600]

    public static func render(_ s: DashboardSnapshot) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
            let text = labels.isEmpty ? "" : "{" + labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",") + "}"
            out += "\(name)\(text) \(number(value))\n"
        }
        family("swiftfl_envoys", "gauge", "Envoys known to the Director, by whether they are online.")
        let online = s.envoys.filter(\.online).count
        sample("swiftfl_envoys", [("state", "online")], Double(online))
        sample("swiftfl_envoys", [("state", "offline")], Double(s.envoys.count - online))
        family("swiftfl_experiments", "gauge", "Experiments by state.")
        for status in ExperimentStatus.allCases {
            sample("swiftfl_experiments", [("state", status.rawValue)], Double(s.experiments.filter { $0.status == status }.count))
        }
        family("swiftfl_rounds_completed_total", "counter", "Training rounds completed, over every experiment.")
        sample("swiftfl_rounds_completed_total", [], Double(s.experiments.map(\.roundsCompleted).reduce(0, +)))
        roundDurations(s, into: &out)
        family("swiftfl_bytes_received_total", "counter", "Bytes the Director's connections received (messages, workspace archives, all TLS payload).")
        sample("swiftfl_bytes_received_total", [], Double(s.bytesReceived))
        family("swiftfl_bytes_sent_total", "counter", "Bytes the Director's connections sent (replies, archives, models, all TLS payload).")
        sample("swiftfl_bytes_sent_total", [], Double(s.bytesSent))
        family("swiftfl_updates_rejected_total", "counter", "Model updates aggregators rejected, as they reported them.")
        sample("swiftfl_updates_rejected_total", [], Double(s.updatesRejected))
        family("swiftfl_envoy_up", "gauge", "1 when the Envoy is online.")
        for e in s.envoys { sample("swiftfl_envoy_up", [("envoy", e.name)], e.online ? 1 : 0) }
        family("swiftfl_envoy_cpu_percent", "gauge", "Machine CPU use at the Envoy's site, percent of all cores, from its last heartbeat.")
        for e in s.envoys { sample("swiftfl_envoy_cpu_percent", [("envoy", e.name)], e.cpuPercent) }
        family("swiftfl_envoy_resident_bytes", "gauge", "Memory used by the Envoy and its collaborators, from its last heartbeat.")
        for e in s.envoys { sample("swiftfl_envoy_resident_bytes", [("envoy", e.name)], Double(e.residentBytes)) }
        family("swiftfl_envoy_available_bytes", "gauge", "Memory the Envoy's machine still has available, from its last heartbeat.")
        for e in s.envoys { sample("swiftfl_envoy_available_bytes", [("envoy", e.name)], Double(e.availableBytes)) }
        return out
    }

    /// Every closed training round's duration (a round run again counts each time it closed).
    private static func roundDurations(_ s: DashboardSnapshot, into out: inout String) {
        let durations = s.experiments.flatMap(\.rounds).filter { !$0.finalValidation && !$0.bestValidation }.map(\.duration)
        let name = "swiftfl_round_duration_seconds"
        out += "# HELP \(name) Seconds each training round took, from its start to its aggregate.\n# TYPE \(name) histogram\n"
        for bound in durationBuckets {
            out += "\(name)_bucket{le=\"\(number(bound))\"} \(durations.filter { $0 <= bound }.count)\n"
        }
        out += "\(name)_bucket{le=\"+Inf\"} \(durations.count)\n"
        out += "\(name)_sum \(number(durations.reduce(0, +)))\n"
        out += "\(name)_count \(durations.count)\n"
    }

    /// A label value with `\`, `"` and newlines escaped.
    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    /// A sample value as Prometheus writes one: integers without a fraction, `+Inf`, `-Inf`, `NaN`.
    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }
}
