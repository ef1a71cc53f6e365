import Foundation
import Testing
import FLCore
import FLPrivacy
import FLRoles
import FLTesting

/// Secure aggregation under the Director: the sites' weights are capped at the rows their Envoys
/// registered, and an experiment whose Director (and so its aggregator) is killed mid-experiment
/// resumes from its checkpoint with fresh keys and completes.
@Suite(.serialized) struct SecureAggregationDirectorTests {
    static let sites = ["hospital_a", "hospital_b", "hospital_c"]

    @Test func anExperimentWithSecureAggregationRunsWithTheRegisteredRowsAsWeightsAndResumesAfterAKill() throws {
        let fixture = try DirectorFixture()
        let workspace = try fixture.makeWorkspace("masked", rounds: 8)
        let plan = "\(workspace)/plan/plan.yaml"
        let text = try String(contentsOfFile: plan, encoding: .utf8)
        try text.replacingOccurrences(of: "    rounds_to_train: 8\n", with: """
                rounds_to_train: 8
                secure_aggregation: {threshold: 2, clip_range: 4.0, bits: 32, weighting: samples, stage_timeout: 30}

            """).write(toFile: plan, atomically: true, encoding: .utf8)
        var (director, port) = try fixture.startDirector()
        let envoys = try Self.sites.map { try fixture.startEnvoy($0, port: port) }
        for name in Self.sites { try DirectorFixture.waitForEvent("envoy_online", ["envoy": name], in: director, timeout: 30) }
        let client = fixture.clientOptions(port: port)
        try fixture.fx(["experiment", "submit", "--workspace", workspace, "--name", "masked"] + client)

        // Killed (taking its aggregator with it) once a round has closed; restarted, it resumes the experiment.
        try DirectorFixture.waitForEvent("round_closed", ["experiment": "masked"], in: director, timeout: 60)
        director.process.kill()
        _ = try director.waitForExit(timeout: 10)
        (director, _) = try fixture.startDirector(port: port)
        let finished = try DirectorFixture.waitForEvent("experiment_finished", ["experiment": "masked"], in: director, timeout: 180)
        #expect(EventLine(finished)?["status"]?.asString == "succeeded", "\(finished)")

        let status = try #require(try JSONSerialization.jsonObject(with: Data(try fixture.fx(["experiment", "status", "masked", "--json"] + client).utf8))
            as? [String: Any])
        #expect(status["launches"] as? Int == 2)
        let rounds = try #require(status["rounds"] as? [[String: Any]])
        let training = rounds.filter { $0["finalValidation"] as? Bool != true && $0["bestValidation"] as? Bool != true }
        #expect(training.count == 8, "\(rounds)")
        #expect(training.allSatisfy { ($0["reported"] as? [String]) == Self.sites }, "\(training.map { $0["reported"] ?? [] })")

        // Each site's weight cap is the rows it registered, the scale the largest of them.
        let experiment = "\(fixture.stateDirectory)/experiments/masked"
        let participants = try ParticipantList.read(from: "\(experiment)/participants.json")
        let caps = participants.participants.map { "\($0.name)=\($0.sampleCount)" }.joined(separator: " ")
        let scale = participants.participants.map(\.sampleCount).max() ?? 0
        #expect(Set(participants.participants.map(\.sampleCount)).count > 1, "the sites registered equal rows: the caps would not show")
        let log = try String(contentsOfFile: "\(experiment)/workspace/logs/aggregator.log", encoding: .utf8)
        let rosters = log.split(separator: "\n").filter { $0.contains("secure aggregation among hospital_a, hospital_b, hospital_c") }
        // Every training round, in both launches (a resumed round starts again, with fresh keys).
        #expect(rosters.count >= 8, "\(rosters.count) secure rounds logged")
        #expect(rosters.allSatisfy { $0.contains("weights min(samples, cap)/\(scale), caps \(caps))") }, "\(rosters.first ?? "") vs caps \(caps)")
        #expect(log.contains("unmasked the sum of 3 sites"))
        director.process.terminate()
        _ = try director.waitForExit(timeout: 30)
        for envoy in envoys { envoy.process.terminate() }
    }

    /// Both privacy mechanisms under the Director: secure aggregation with distributed differential
    /// privacy (each site clips and adds its noise share), the Director killed mid-experiment and
    /// restarted. ε after each training round is the accountant's for that many rounds, across the
    /// restart (recomputed from the rounds completed), and `fx experiment status` shows the last.
    @Test func distributedDifferentialPrivacyIsAccountedAcrossADirectorRestart() throws {
        let fixture = try DirectorFixture()
        let workspace = try fixture.makeWorkspace("private", rounds: 4)
        let plan = "\(workspace)/plan/plan.yaml"
        let text = try String(contentsOfFile: plan, encoding: .utf8)
        try text.replacingOccurrences(of: "    rounds_to_train: 4\n", with: """
                rounds_to_train: 4
                secure_aggregation: {threshold: 2, clip_range: 10.0, bits: 32, weighting: uniform, stage_timeout: 30}
                differential_privacy: {clip_norm: 1.0, noise_multiplier: 2.0, delta: 1.0e-5, placement: distributed}

            """).write(toFile: plan, atomically: true, encoding: .utf8)
        var (director, port) = try fixture.startDirector()
        let envoys = try Self.sites.map { try fixture.startEnvoy($0, port: port) }
        for name in Self.sites { try DirectorFixture.waitForEvent("envoy_online", ["envoy": name], in: director, timeout: 30) }
        let client = fixture.clientOptions(port: port)
        try fixture.fx(["experiment", "submit", "--workspace", workspace, "--name", "private"] + client)
        try DirectorFixture.waitForEvent("round_closed", ["experiment": "private"], in: director, timeout: 60)
        director.process.kill()
        _ = try director.waitForExit(timeout: 10)
        (director, _) = try fixture.startDirector(port: port)
        let finished = try DirectorFixture.waitForEvent("experiment_finished", ["experiment": "private"], in: director, timeout: 180)
        #expect(EventLine(finished)?["status"]?.asString == "succeeded", "\(finished)")

        let status = try #require(try JSONSerialization.jsonObject(with: Data(try fixture.fx(["experiment", "status", "private", "--json"] + client).utf8))
            as? [String: Any])
        #expect(status["launches"] as? Int == 2)
        let rounds = try #require(status["rounds"] as? [[String: Any]])
        let training = rounds.filter { $0["finalValidation"] as? Bool != true && $0["bestValidation"] as? Bool != true }
        #expect(training.count == 4, "\(rounds)")
        for (i, round) in training.enumerated() {
            var accountant = PrivacyAccountant()
            accountant.compose(samplingRate: 1, noiseMultiplier: 2, steps: i + 1)
            let expected = accountant.epsilon(delta: 1e-5).epsilon
            let reported = (round["metrics"] as? [String: Any])?["privacy/epsilon"] as? Double
            #expect(reported.map { abs($0 - expected) <= 1e-9 * expected } == true, "round \(i): \(String(describing: reported)) vs \(expected)")
        }
        let shown = try fixture.fx(["experiment", "status", "private"] + client)
        #expect(shown.split(separator: "\n").contains { $0.hasPrefix("privacy:") && $0.contains("ε = ") && $0.hasSuffix("after round 4") }, "\(shown)")
        let log = try String(contentsOfFile: "\(fixture.stateDirectory)/experiments/private/workspace/logs/aggregator.log", encoding: .utf8)
        #expect(log.contains("unmasked the sum of 3 sites"))
        director.process.terminate()
        _ = try director.waitForExit(timeout: 30)
        for envoy in envoys { envoy.process.terminate() }
    }
}
