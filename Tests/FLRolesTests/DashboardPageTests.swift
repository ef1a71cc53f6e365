import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import FLTesting
import FLCore
import FLWire
@testable import FLRoles

/// The dashboard page for a known snapshot, read back as XML: Envoy rows with a sparkline point
/// per heartbeat, the queue in order, each experiment with its chart and sites, names escaped.
@Suite struct DashboardPageTests {

    static func envoy(_ name: String, online: Bool) -> EnvoyInfo {
        EnvoyInfo(name: name, shard: ShardDescriptor(path: "d.csv", labelColumn: "y", sampleShape: [30], targetShape: [1]), online: online,
                  lastHeartbeatAge: online ? 2 : nil, currentExperiment: online ? "first" : "", collaboratorRunning: online, cpuPercent: 40,
                  residentBytes: 200 << 20, availableBytes: 4 << 30, registeredAt: 0)
    }

    static func snapshot() -> DashboardSnapshot {
        let rounds = (0..<3).map { r in
            RoundInfo(round: r, finalValidation: false, attempt: 0, metrics: ["val/accuracy": 0.5 + 0.1 * Double(r), "train/loss": 1 / Double(r + 1)],
                      reported: ["a"], missing: [], duration: 2, best: false)
        }
        let running = ExperimentInfo(name: "first", status: .running, archiveSHA256: "", archiveSize: 10, submittedBy: "alice", submittedAt: 0,
                                     roundsToTrain: 5, roundsCompleted: 3, currentRound: 3, rounds: rounds,
                                     sites: [SiteInfo(envoy: "a", state: .running), SiteInfo(envoy: "b<script>", state: .refused, reason: "not approved")])
        let queued = [("second", 2), ("third", 1)].map { name, position in
            ExperimentInfo(name: name, status: .queued, archiveSHA256: "", archiveSize: 10, submittedBy: "bob", submittedAt: 0, queuePosition: position)
        }
        let samples = (0..<4).map { DashboardRecorder.Sample(time: Double($0), cpuPercent: Double($0 * 10), residentBytes: $0 << 20, availableBytes: 1 << 30) }
        return DashboardSnapshot(envoys: [envoy("b<script>", online: false), envoy("a", online: true)], experiments: [running] + queued,
                                 history: ["a": samples], takenAt: 0)
    }

    @Test func showsEnvoysQueueAndExperiments() throws {
        let html = DashboardPage.render(Self.snapshot())
        let elements = XMLElements.parse(html)
        #expect(elements.problem == nil, "\(elements.problem ?? "")")
        let found = elements.found
        #expect(!found.contains { $0.name == "script" }, "a name became markup")
        let rows = found.filter { $0.attributes["class"] == "envoy" }
        #expect(rows.compactMap { $0.attributes["data-envoy"] } == ["a", "b<script>"])
        // Envoy a: a CPU and a memory sparkline, four points each; b has no samples.
        let sparklines = found.filter { $0.name == "svg" && $0.attributes["class"] == "sparkline" }
        #expect(sparklines.count == 4)
        let lines = found.filter { $0.name == "polyline" && $0.attributes["data-series"] == nil }
        #expect(lines.count == 2 && lines.allSatisfy { $0.attributes["points"]?.split(separator: " ").count == 4 })
        #expect(found.filter { $0.name == "li" }.map { $0.text.split(separator: ",").first.map(String.init) } == ["third", "second"])
        let round = try #require(found.first { $0.attributes["class"] == "current-round" && $0.attributes["data-experiment"] == "first" })
        #expect(round.attributes["data-round"] == "4" && round.text.contains("Current round: 4"))
        #expect(found.filter { $0.name == "polyline" && $0.attributes["data-series"] != nil }.compactMap { $0.attributes["data-series"] }
                == ["train/loss", "val/accuracy"])
        #expect(found.filter { $0.attributes["class"] == "site" }.compactMap { $0.attributes["data-envoy"] } == ["a", "b<script>"])
        #expect(found.contains { $0.name == "meta" && $0.attributes["http-equiv"] == "refresh" })
        #expect(!found.contains { ($0.attributes["src"] ?? $0.attributes["href"]) != nil }, "the page refers to something outside it")
    }
}
