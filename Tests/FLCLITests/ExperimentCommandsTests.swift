import Foundation
import Testing
@testable import FLCLI
import FLWire

/// What `fx experiment watch` and `status` print for the states of an experiment.
@Suite struct ExperimentCommandsTests {
    static func round(_ r: Int, final: Bool = false, accuracy: Double, best: Bool = false, missing: [String] = []) -> RoundInfo {
        RoundInfo(round: r, finalValidation: final, attempt: 0, metrics: ["aggregated_model_validation/accuracy": accuracy, "train/loss": 0.5 / Double(r + 1)],
                  reported: ["hospital_a"], missing: missing, duration: 0.1, best: best)
    }

    static func info(_ status: ExperimentStatus, rounds: [RoundInfo], sites: [SiteInfo] = [], reason: String = "") -> ExperimentInfo {
        ExperimentInfo(name: "first", status: status, reason: reason, archiveSHA256: String(repeating: "ab", count: 32), archiveSize: 10240,
                       submittedBy: "alice", submittedAt: 0, queuePosition: status == .queued ? 2 : 0, roundsToTrain: 4,
                       roundsCompleted: rounds.filter { !$0.finalValidation }.count, launches: 1, collaborators: ["hospital_a", "hospital_b"],
                       bestMetric: "aggregated_model_validation/accuracy", bestValue: rounds.isEmpty ? nil : 0.95, rounds: rounds, sites: sites)
    }

    @Test func watchPrintsEachChangeOnceAndABarPerRound() {
        var printer = WatchPrinter()
        #expect(printer.lines(for: Self.info(.queued, rounds: [])) == ["first: queued at position 2"])
        let offered = [SiteInfo(envoy: "hospital_a", state: .offered), SiteInfo(envoy: "hospital_c", state: .offered)]
        #expect(printer.lines(for: Self.info(.preparing, rounds: [], sites: offered)) == ["first: offered to hospital_a, hospital_c"])
        let decided = [SiteInfo(envoy: "hospital_a", state: .accepted), SiteInfo(envoy: "hospital_c", state: .refused, reason: "not approved")]
        #expect(printer.lines(for: Self.info(.preparing, rounds: [], sites: decided)) == ["  hospital_c: refused (not approved)"])
        let one = [Self.round(0, accuracy: 0.5)]
        #expect(printer.lines(for: Self.info(.running, rounds: one, sites: decided)) == [
            "first: running on hospital_a, hospital_b (4 rounds)",
            "[#####...............] round 1/4        aggregated_model_validation/accuracy=0.5000 train/loss=0.5000",
        ])
        #expect(printer.lines(for: Self.info(.running, rounds: one, sites: decided)).isEmpty)  // nothing new
        let all = one + [Self.round(1, accuracy: 0.9, best: true, missing: ["hospital_b"]), Self.round(2, accuracy: 0.95, best: true),
                         Self.round(3, accuracy: 0.94), Self.round(4, final: true, accuracy: 0.94)]
        let end = printer.lines(for: Self.info(.succeeded, rounds: all, sites: decided, reason: "completed 4 rounds"))
        #expect(end == [
            "[##########..........] round 2/4        aggregated_model_validation/accuracy=0.9000 train/loss=0.2500 [best] (missing hospital_b)",
            "[###############.....] round 3/4        aggregated_model_validation/accuracy=0.9500 train/loss=0.1667 [best]",
            "[####################] round 4/4        aggregated_model_validation/accuracy=0.9400 train/loss=0.1250",
            "[####################] final validation aggregated_model_validation/accuracy=0.9400 train/loss=0.1000",
            "first succeeded: completed 4 rounds; best aggregated_model_validation/accuracy = 0.9500",
        ])
    }

    @Test func statusDescribesTheExperimentAndItsSites() {
        let sites = [SiteInfo(envoy: "hospital_a", state: .finished, exitStatus: "exited with status 0"),
                     SiteInfo(envoy: "hospital_c", state: .refused, reason: "not approved")]
        let text = ExperimentCommands.describe(Self.info(.succeeded, rounds: [Self.round(0, accuracy: 0.95)], sites: sites, reason: "completed 4 rounds"))
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[0] == "experiment:  first")
        #expect(lines[1] == "status:      succeeded: completed 4 rounds")
        #expect(lines.contains("rounds:      1/4"))
        #expect(lines.contains("best:        aggregated_model_validation/accuracy = 0.9500"))
        #expect(lines.suffix(3) == ["sites:", "  hospital_a  finished  exited with status 0", "  hospital_c  refused   not approved"])
    }

    @Test func statusShowsEachSitesFiguresForTheFinalAndTheBestModel() {
        let metric = "aggregated_model_validation/accuracy"
        var final = Self.round(4, final: true, accuracy: 0.92)
        final.sites = ["hospital_a": [metric: 0.99], "hospital_b": [metric: 0.81]]
        var best = Self.round(5, accuracy: 0.95)
        best.bestValidation = true
        best.sites = ["hospital_a": [metric: 0.98], "hospital_b": [metric: 0.9]]
        let text = ExperimentCommands.describe(Self.info(.succeeded, rounds: [Self.round(0, accuracy: 0.5), final, best]))
        let lines = text.split(separator: "\n").map(String.init)
        #expect(Array(lines.suffix(5)) == [
            "per site (aggregated_model_validation/accuracy, on each site's validation rows):",
            "  SITE            FINAL MODEL  BEST MODEL",
            "  hospital_a      0.9900       0.9800",
            "  hospital_b      0.8100       0.9000",
            "  weighted total  0.9200       0.9500",
        ], "\(text)")
        // The best model's validation is a bar of its own, not a training round.
        var printer = WatchPrinter()
        #expect(printer.lines(for: Self.info(.running, rounds: [best])).last?.contains("best model") == true)
    }

    /// With differential privacy, status shows the ε spent as of the last training round that reported it.
    @Test func statusShowsThePrivacySpent() {
        var trained = Self.round(1, accuracy: 0.9)
        trained.metrics["privacy/epsilon"] = 1.23456
        trained.metrics["privacy/delta"] = 1e-5
        let rounds = [Self.round(0, accuracy: 0.5), trained, Self.round(2, final: true, accuracy: 0.9)]
        let lines = ExperimentCommands.describe(Self.info(.succeeded, rounds: rounds)).split(separator: "\n").map(String.init)
        #expect(lines.contains("privacy:     ε = 1.2346 at δ = 1e-05 after round 2"), "\(lines)")
        #expect(!ExperimentCommands.describe(Self.info(.running, rounds: [Self.round(0, accuracy: 0.5)])).contains("privacy:"))
        // On the round's bar δ keeps its digits.
        #expect(WatchPrinter.metrics(trained.metrics).hasSuffix("privacy/delta=1e-05 privacy/epsilon=1.2346 train/loss=0.2500"), "\(WatchPrinter.metrics(trained.metrics))")
    }
}
