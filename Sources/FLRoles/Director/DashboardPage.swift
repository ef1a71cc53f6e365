import Foundation
import FLCore
import FLWire

/// The dashboard's page: plain HTML with inline SVG, no script and nothing fetched from elsewhere
/// (sites may be offline), refreshed by the browser every few seconds with a meta refresh.
/// Envoys with their last hour of CPU and memory, the queue, and every experiment with its
/// round-by-round chart and what each site did.
public enum DashboardPage {
    /// Seconds between refreshes.
    public static let refreshSeconds = 10

    public static func render(_ s: DashboardSnapshot) -> String {
        var html = SVGWriter()
        html.raw("<!DOCTYPE html>\n")
        html.open("html", ["lang": "en"])
        html.open("head")
        html.element("meta", ["charset": "utf-8"])
        html.element("meta", ["http-equiv": "refresh", "content": "\(refreshSeconds)"])
        html.element("title", text: "SwiftFL Director")
        html.element("style", text: style)
        html.close("head")
        html.open("body")
        html.element("h1", text: "SwiftFL Director")
        html.element("p", ["class": "taken"], text: "As of \(timestamp(s.takenAt)) UTC; this page refreshes every \(refreshSeconds) s.")
        envoys(s, &html)
        queue(s, &html)
        experiments(s, &html)
        html.close("body")
        html.close("html")
        return html.text
    }

    static let style = """
        body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin-bottom:1em}
        td,th{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left;vertical-align:middle}
        .online{color:#007a3d;font-weight:bold}.offline{color:#b00020;font-weight:bold}
        section.experiment{border:1px solid #ccc;border-radius:6px;padding:0.5em 1em;margin-bottom:1em}
        .taken{color:#666}
        """

    static func envoys(_ s: DashboardSnapshot, _ html: inout SVGWriter) {
        html.element("h2", text: "Envoys (\(s.envoys.filter(\.online).count) of \(s.envoys.count) online)")
        guard !s.envoys.isEmpty else { return html.element("p", text: "No Envoy has registered yet.") }
        html.open("table", ["id": "envoys"])
        html.raw("<tr><th>Envoy</th><th>State</th><th>Last heartbeat</th><th>Experiment</th><th>CPU (last hour)</th><th>Memory (last hour)</th></tr>\n")
        for e in s.envoys.sorted(by: { $0.name < $1.name }) {
            let samples = s.history[e.name] ?? []
            html.open("tr", ["class": "envoy", "data-envoy": e.name])
            html.element("td", text: e.name)
            html.element("td", ["class": e.online ? "online" : "offline"], text: e.online ? "online" : "offline")
            html.element("td", text: e.lastHeartbeatAge.map { String(format: "%.0f s ago", $0) } ?? "not since the Director started")
            html.element("td", text: e.currentExperiment.isEmpty ? "-" : e.currentExperiment + (e.collaboratorRunning ? " (training)" : ""))
            html.open("td")
            html.raw(Sparkline.svg(samples.map(\.cpuPercent), title: "CPU % over the last hour"))
            html.raw(" " + SVGWriter.escape(String(format: "%.0f %%", e.cpuPercent)))
            html.close("td")
            html.open("td")
            html.raw(Sparkline.svg(samples.map { Double($0.residentBytes) }, colour: "#D55E00", title: "memory used over the last hour"))
            html.raw(" " + SVGWriter.escape(bytes(e.residentBytes) + " used, " + bytes(e.availableBytes) + " free"))
            html.close("td")
            html.close("tr")
        }
        html.close("table")
    }

    static func queue(_ s: DashboardSnapshot, _ html: inout SVGWriter) {
        let queue = s.queue
        html.element("h2", text: "Queue (\(queue.count))")
        guard !queue.isEmpty else { return html.element("p", text: "Nothing is waiting.") }
        html.open("ol", ["id": "queue"])
        for x in queue { html.element("li", text: "\(x.name), submitted by \(x.submittedBy) at \(timestamp(x.submittedAt)) UTC, \(x.roundsToTrain) rounds") }
        html.close("ol")
    }

    static func experiments(_ s: DashboardSnapshot, _ html: inout SVGWriter) {
        html.element("h2", text: "Experiments (\(s.experiments.count))")
        // The newest first: the one being watched is usually the latest.
        for x in s.experiments.reversed() {
            html.open("section", ["class": "experiment", "data-experiment": x.name])
            html.element("h3", text: "\(x.name): \(x.status.rawValue)")
            var facts = "Submitted by \(x.submittedBy) at \(timestamp(x.submittedAt)) UTC. "
            if x.currentRound >= 0 { facts += "Training round \(x.currentRound + 1) of \(x.roundsToTrain). " }
            facts += "Rounds completed: \(x.roundsCompleted)/\(x.roundsToTrain)."
            if let best = x.bestValue { facts += String(format: " Best %@ = %.4f.", x.bestMetric, best) }
            if !x.reason.isEmpty { facts += " " + x.reason }
            html.element("p", ["class": "facts"], text: facts)
            html.element("p", ["class": "current-round", "data-experiment": x.name, "data-round": "\(x.currentRound + 1)", "data-completed": "\(x.roundsCompleted)"],
                         text: x.currentRound >= 0 ? "Current round: \(x.currentRound + 1)" : "Rounds completed: \(x.roundsCompleted)")
            if x.rounds.contains(where: { !$0.finalValidation && !$0.bestValidation }) {
                html.raw(ExperimentChart.chart(for: x, width: 900, height: 340).svg())
            }
            if !x.sites.isEmpty {
                html.open("table", ["class": "sites"])
                html.raw("<tr><th>Site</th><th>State</th><th>Detail</th></tr>\n")
                for site in x.sites {
                    html.open("tr", ["class": "site", "data-envoy": site.envoy])
                    html.element("td", text: site.envoy)
                    html.element("td", text: site.state.rawValue)
                    html.element("td", text: [site.exitStatus, site.reason].filter { !$0.isEmpty }.joined(separator: ": "))
                    html.close("tr")
                }
                html.close("table")
            }
            html.close("section")
        }
    }

    static func timestamp(_ seconds: Double) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: Date(timeIntervalSince1970: seconds))
    }

    static func bytes(_ n: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(n)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(n) B" : String(format: "%.1f %@", value, units[unit])
    }
}
