#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import FLCore
import FLRoles
import FLTesting

/// The long-lived federation as separate processes on loopback: `fx director start`, three
/// `fx envoy start` (one with an allow-list), and `fx experiment …` as a data scientist would type it.
/// Every wait is on a line the Director prints (`--events`) or a process exit, with a deadline.
@Suite(.serialized) struct DirectorFederationTests {
    private static func json(_ text: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(text.utf8)) }

    private static func object(_ text: String) throws -> [String: Any] {
        try #require(try json(text) as? [String: Any], "not a JSON object: \(text)")
    }

    /// The SHA-256 `fx workspace export` prints for a workspace (the digest sites approve).
    private static func exportDigest(_ fixture: DirectorFixture, _ workspace: String) throws -> String {
        let output = try fixture.fx(["workspace", "export", "--workspace", workspace, "--output", "\(workspace).tar"])
        let line = try #require(output.split(separator: "\n").first { $0.hasPrefix("SHA-256: ") })
        return String(line.dropFirst("SHA-256: ".count))
    }

    @Test func experimentsRunInOrderAcrossEnvoysAndSurviveADirectorRestart() throws {
        let fixture = try DirectorFixture(envoys: ["hospital_a", "hospital_b"])
        try fixture.addEnvoy("hospital_c", dataFrom: 2, policy: "allowlist")
        try fixture.addEnvoy("hospital_x", dataFrom: 0, extraFeatures: 1)
        let first = try fixture.makeWorkspace("first", rounds: 5)
        let second = try fixture.makeWorkspace("second", rounds: 3)
        let third = try fixture.makeWorkspace("third", rounds: 20)
        let fourth = try fixture.makeWorkspace("fourth", rounds: 2)
        // hospital_c approves every archive but the second's.
        let digests = try [first, second, third, fourth].map { try Self.exportDigest(fixture, $0) }
        #expect(Set(digests).count == 4)
        for i in [0, 2, 3] {
            let said = try fixture.fx(["envoy", "approve", digests[i], "--config", fixture.envoyConfigurationPath("hospital_c")])
            #expect(said.contains("approved \(digests[i])"))
        }

        var (director, port) = try fixture.startDirector()
        let client = fixture.clientOptions(port: port)
        let envoys = try ["hospital_a", "hospital_b", "hospital_c"].map { try fixture.startEnvoy($0, port: port) }
        for name in ["hospital_a", "hospital_b", "hospital_c"] {
            try DirectorFixture.waitForEvent("envoy_registered", ["envoy": name], in: director, timeout: 30)
        }

        // An Envoy whose shard has another shape is refused, with both shapes named.
        let wrong = try fixture.startEnvoy("hospital_x", port: port)
        let wrongStatus = try wrong.waitForExit(timeout: 30)
        #expect(!wrongStatus.isSuccess)
        #expect(wrong.errorTail().contains("sample_shape [31]"), "\(wrong.errorTail())")
        #expect(wrong.errorTail().contains("sample_shape [30]"), "\(wrong.errorTail())")
        try DirectorFixture.waitForEvent("envoy_refused", ["envoy": "hospital_x"], in: director, timeout: 10)

        // Two experiments submitted back to back run one after the other, in order.
        let submitted = try fixture.fx(["experiment", "submit", "--workspace", first, "--name", "first"] + client)
        #expect(submitted.contains("submitted experiment 'first'"))
        try fixture.fx(["experiment", "submit", "--workspace", second, "--name", "second"] + client)
        let watch = try fixture.start("fx", ["experiment", "watch", "second"] + client, name: "watch")
        try DirectorFixture.waitForEvent("experiment_finished", ["experiment": "first"], in: director, timeout: 60)
        try DirectorFixture.waitForEvent("experiment_finished", ["experiment": "second"], in: director, timeout: 60)
        let lines = director.outputLines
        let firstFinished = try #require(lines.firstIndex { EventLine($0)?.matches("experiment_finished", ["experiment": "first"]) == true })
        let secondOffered = try #require(lines.firstIndex { EventLine($0)?.matches("experiment_offered", ["experiment": "second"]) == true })
        #expect(firstFinished < secondOffered, "the second experiment started before the first ended")

        #expect(try watch.waitForExit(timeout: 30).isSuccess, "\(watch.errorTail())")
        watch.waitForOutputEnd(timeout: 10)
        let watched = watch.outputLines
        #expect(watched.contains { $0.hasPrefix("[") && $0.contains("round 3/3") && $0.contains("aggregated_model_validation/accuracy=") })
        #expect(watched.last?.hasPrefix("second succeeded") == true, "\(watched)")

        // The first: all three sites trained, with an accuracy figure.
        let firstStatus = try Self.object(try fixture.fx(["experiment", "status", "first", "--json"] + client))
        #expect(firstStatus["status"] as? String == "succeeded")
        #expect(firstStatus["collaborators"] as? [String] == ["hospital_a", "hospital_b", "hospital_c"])
        let metrics = try #require(firstStatus["lastMetrics"] as? [String: Double])
        let accuracy = try #require(metrics["aggregated_model_validation/accuracy"])
        #expect(accuracy > 0.9)
        // 5 rounds and the final validation (and the best model's own validation when it is not the final model).
        #expect((firstStatus["rounds"] as? [[String: Any]])?.filter { $0["bestValidation"] as? Bool != true }.count == 6)
        // The second is outside hospital_c's allow-list: it ran at the other two only.
        let secondStatus = try Self.object(try fixture.fx(["experiment", "status", "second", "--json"] + client))
        #expect(secondStatus["status"] as? String == "succeeded")
        #expect(secondStatus["collaborators"] as? [String] == ["hospital_a", "hospital_b"])
        let sites = try #require(secondStatus["sites"] as? [[String: Any]])
        let refusal = try #require(sites.first { $0["envoy"] as? String == "hospital_c" })
        #expect(refusal["state"] as? String == "refused")
        #expect((refusal["reason"] as? String)?.contains("allow-list") == true)
        let audit = try String(contentsOfFile: fixture.auditLogPath("hospital_c"), encoding: .utf8).split(separator: "\n")
            .map { try Self.object(String($0)) }
        #expect(audit.contains { $0["experiment"] as? String == "second" && $0["decision"] as? String == "refused" && $0["sha256"] as? String == digests[1] })
        #expect(!audit.contains { $0["experiment"] as? String == "second" && $0["decision"] as? String == "started" })
        #expect(audit.contains { $0["experiment"] as? String == "first" && $0["decision"] as? String == "finished"
                    && $0["exit_status"] as? String == "exited with status 0" })

        // The best model comes back as a safetensors file.
        let modelPath = fixture.directory.appending("first-best.safetensors")
        try fixture.fx(["experiment", "model", "first", "--best", "--output", modelPath] + client)
        let model = try Safetensors.read(modelPath).model
        #expect(model.layout.tensors.map(\.shape) == [[2, 30], [2], [30], [30]])

        // A Director killed while one experiment runs and another waits keeps its history, resumes the
        // running one from its checkpoint and then runs the rest; the Envoys come back by themselves.
        try fixture.fx(["experiment", "submit", "--workspace", third, "--name", "third"] + client)
        try fixture.fx(["experiment", "submit", "--workspace", fourth, "--name", "fourth"] + client)
        try DirectorFixture.waitForEvent("round_closed", ["experiment": "third"], in: director, timeout: 60)
        director.process.kill()
        _ = try director.waitForExit(timeout: 10)
        (director, _) = try fixture.startDirector(port: port)
        try DirectorFixture.waitForEvent("experiment_finished", ["experiment": "third"], in: director, timeout: 90)
        try DirectorFixture.waitForEvent("experiment_finished", ["experiment": "fourth"], in: director, timeout: 60)
        let history = try #require(try Self.json(try fixture.fx(["experiment", "list", "--json"] + client)) as? [[String: Any]])
        #expect(history.map { $0["name"] as? String } == ["first", "second", "third", "fourth"])
        #expect(history.map { $0["status"] as? String } == ["succeeded", "succeeded", "succeeded", "succeeded"])
        let resumed = try #require(history.first { $0["name"] as? String == "third" })
        #expect(resumed["launches"] as? Int == 2)
        #expect(resumed["roundsCompleted"] as? Int == 20)
        let kept = try #require(history.first { $0["name"] as? String == "first" })
        #expect((kept["lastMetrics"] as? [String: Double])?["aggregated_model_validation/accuracy"] == accuracy)

        // Killing an Envoy turns it offline.
        envoys[1].process.kill()
        try DirectorFixture.waitForEvent("envoy_offline", ["envoy": "hospital_b"], in: director, timeout: 30)
        let list = try Self.object(try fixture.fx(["envoy", "list", "--json"] + client))
        let listed = try #require(list["envoys"] as? [[String: Any]])
        #expect(listed.map { $0["name"] as? String } == ["hospital_a", "hospital_b", "hospital_c"])
        #expect(listed.map { $0["online"] as? Bool } == [true, false, true])
        // Each registered (since the restart too) with the default capacity of one collaborator.
        #expect(listed.map { $0["capacity"] as? Int } == [1, 1, 1])
        #expect(listed.allSatisfy { ($0["shard"] as? [String: Any])?["sampleShape"] as? [Int] == [30] })

        director.process.terminate()
        #expect(try director.waitForExit(timeout: 30).isSuccess, "\(director.errorTail())")
        for envoy in envoys { envoy.process.terminate() }
    }
    /// The shipped example (`workspaces/federation`) run as the README's walk-through types it:
    /// certificates with their roles, the configurations as written (the revocation list, the sites'
    /// default policy and hospital_c's allow-list), a data scientist submitting and following an
    /// experiment, and a lost laptop revoked.
    @Test func theShippedExampleRunsAsTheReadmeWalksThroughIt() throws {
        let fixture = try DirectorFixture(envoys: [], users: [])
        let root = fixture.directory.appending("fl")
        try FileManager.default.copyItem(atPath: "\(fixture.repository)/workspaces/federation", toPath: root)
        let ca = "\(root)/ca"
        try fixture.fx(["pki", "init", "--dir", ca])
        try fixture.fx(["pki", "certify", "--name", "director", "--role", "director", "--ca-dir", ca, "--dir", "\(root)/director/cert"])
        try fixture.fx(["pki", "certify", "--name", "aggregator", "--role", "aggregator", "--ca-dir", ca, "--dir", "\(root)/director/cert"])
        let hospitals = ["hospital_a", "hospital_b", "hospital_c"]
        for h in hospitals { try fixture.fx(["pki", "certify", "--name", h, "--role", "envoy", "--ca-dir", ca, "--dir", "\(root)/\(h)/cert"]) }
        try fixture.fx(["pki", "certify", "--name", "alice", "--role", "user", "--ca-dir", ca, "--dir", "\(root)/alice/cert"])

        let director = try fixture.start("fx", ["director", "start", "--config", "\(root)/director/director.yaml", "--port", "0", "--events"], name: "director")
        let listening = try DirectorFixture.waitForEvent("listening", in: director, timeout: 30)
        let port = try #require(EventLine(listening)?["port"]?.asInt)
        let envoys = try hospitals.map { h in
            try fixture.start("fx", ["envoy", "start", "--name", h, "--config", "\(root)/\(h)/envoy.yaml", "--director", "127.0.0.1:\(port)"], name: h)
        }
        for h in hospitals { try DirectorFixture.waitForEvent("envoy_online", ["envoy": h], in: director, timeout: 30) }
        let client = ["--director", "127.0.0.1:\(port)", "--cert-dir", "\(root)/alice/cert", "--identity", "alice"]

        // The data scientist's workspace, approved at hospital_c, submitted and followed to the end.
        let workspace = "\(root)/alice/bc"
        try fixture.fx(["workspace", "create", "--prefix", workspace, "--template", "breast_cancer"])
        let exported = try fixture.fx(["workspace", "export", "--workspace", workspace, "--output", "\(root)/bc.tar"])
        let digest = try #require(exported.split(separator: "\n").first { $0.hasPrefix("SHA-256: ") }).dropFirst("SHA-256: ".count)
        try fixture.fx(["envoy", "approve", String(digest), "--config", "\(root)/hospital_c/envoy.yaml", "--comment", "alice's breast cancer plan"])
        try fixture.fx(["experiment", "submit", "--workspace", workspace, "--name", "bc-1"] + client)
        let watch = try fixture.fxStatus(["experiment", "watch", "bc-1"] + client, timeout: 120)
        #expect(watch.status.isSuccess, "\(watch.error)")
        #expect(watch.output.contains("bc-1 succeeded: completed 10 rounds"), "\(watch.output)")
        let status = try fixture.fx(["experiment", "status", "bc-1", "--json"] + client)
        let info = try #require(try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any])
        #expect(info["collaborators"] as? [String] == hospitals)
        try fixture.fx(["experiment", "model", "bc-1", "--best", "--output", "\(root)/bc-1.safetensors"] + client)
        #expect(try Safetensors.read("\(root)/bc-1.safetensors").model.layout.tensors.map(\.shape) == [[2, 30], [2], [30], [30]])

        // 7. The downloaded model says how to run it, and runs.
        let model = "\(root)/bc-1.safetensors", data = "\(workspace)/data/breast_cancer_wisconsin.csv"
        let inspected = try fixture.fx(["model", "inspect", model])
        #expect(inspected.contains("network: softmax regression 30 → 2") && inspected.contains("standardization: federated"), "\(inspected)")
        let evaluated = try fixture.fx(["model", "evaluate", "--model", model, "--data", data])
        let accuracy = try #require(evaluated.split(separator: "\n").first { $0.hasPrefix("accuracy") }.flatMap { Double($0.split(separator: " ")[1]) })
        #expect(accuracy >= 0.9, "\(evaluated)")
        try fixture.fx(["model", "predict", "--model", model, "--data", data, "--output", "\(root)/predictions.csv"])
        let predictions = try String(contentsOfFile: "\(root)/predictions.csv", encoding: .utf8).split(separator: "\n")
        #expect(predictions.first == "prediction,p_0,p_1" && predictions.count == 570)

        // A lost laptop: revoked at the CA, refused by the Director from the next connection on.
        try fixture.fx(["pki", "revoke", "alice", "--ca-dir", ca])
        let refused = try fixture.fxStatus(["experiment", "list"] + client)
        #expect(!refused.status.isSuccess && refused.error.contains("revoked"), "\(refused.error)")

        director.process.terminate()
        #expect(try director.waitForExit(timeout: 30).isSuccess, "\(director.errorTail())")
        for envoy in envoys { envoy.process.terminate() }
    }
    /// A Director killed (SIGKILL, taking its aggregator with it) again and again during a long
    /// experiment resumes it each time from the last checkpoint, and every round ends up in the
    /// metrics exactly once: in the aggregator's log, the Director's copy, and its status.
    @Test func aDirectorKilledAtManyPointsRecordsEveryRoundOnce() throws {
        let fixture = try DirectorFixture(envoys: ["hospital_a", "hospital_b"])
        let rounds = 40
        let workspace = try fixture.makeWorkspace("long", rounds: rounds)
        var (director, port) = try fixture.startDirector()
        let envoys = try ["hospital_a", "hospital_b"].map { try fixture.startEnvoy($0, port: port) }
        for name in ["hospital_a", "hospital_b"] { try DirectorFixture.waitForEvent("envoy_online", ["envoy": name], in: director, timeout: 30) }
        let client = fixture.clientOptions(port: port)
        try fixture.fx(["experiment", "submit", "--workspace", workspace, "--name", "long"] + client)
        var kills = 0
        // Killed the moment a round closes (its metrics written, its checkpoint perhaps not yet), five times.
        while kills < 5 {
            let line = try director.waitForLine(timeout: 60) {
                EventLine($0).map { $0.matches("round_closed", ["experiment": "long"]) || $0.matches("experiment_finished") } == true
            }
            if EventLine(line)?.matches("experiment_finished") == true { break }
            director.process.kill()
            _ = try director.waitForExit(timeout: 10)
            kills += 1
            (director, _) = try fixture.startDirector(port: port)
        }
        #expect(kills == 5, "the experiment ended after \(kills) kills; make it longer")
        let finished = try DirectorFixture.waitForEvent("experiment_finished", ["experiment": "long"], in: director, timeout: 120)
        #expect(EventLine(finished)?["status"]?.asString == "succeeded", "\(finished)")

        let status = try #require(try JSONSerialization.jsonObject(with: Data(try fixture.fx(["experiment", "status", "long", "--json"] + client).utf8)) as? [String: Any])
        #expect(status["launches"] as? Int == kills + 1)
        let recorded = try #require(status["rounds"] as? [[String: Any]])
        let keys = recorded.map { "\($0["round"] as? Int ?? -1)/\($0["finalValidation"] as? Bool ?? false)" }
        #expect(keys.count == Set(keys).count, "a round recorded twice: \(keys)")
        // Every training round and the final validation (and the best model's validation, if it is another).
        #expect(recorded.filter { $0["bestValidation"] as? Bool != true }.count == rounds + 1, "\(keys)")
        let metrics = try MetricsLog.read("\(fixture.stateDirectory)/experiments/long/metrics.jsonl")
        var seen: [String: Int] = [:]
        for m in metrics { seen["\(m.round) \(m.origin) \(m.task) \(m.metric)", default: 0] += 1 }
        #expect(seen.values.allSatisfy { $0 == 1 }, "written twice: \(seen.filter { $0.value > 1 }.keys.sorted().prefix(5))")
        #expect(Set(metrics.filter { $0.origin == "aggregator" }.map(\.round)).isSuperset(of: 0...rounds))
        director.process.terminate()
        _ = try director.waitForExit(timeout: 30)
        for envoy in envoys { envoy.process.terminate() }
    }
    /// A site whose collaborator is killed mid-experiment leaves its round at once: the Director
    /// tells the aggregator, which goes on with the others instead of waiting out the round timeout
    /// (10 minutes by default, which the plan keeps).
    @Test func aKilledCollaboratorDoesNotHoldUpItsRound() throws {
        let fixture = try DirectorFixture()
        let workspace = try fixture.makeWorkspace("steady", rounds: 400)
        let (director, port) = try fixture.startDirector()
        let envoys = try ["hospital_a", "hospital_b", "hospital_c"].map { try fixture.startEnvoy($0, port: port) }
        for name in ["hospital_a", "hospital_b", "hospital_c"] { try DirectorFixture.waitForEvent("envoy_online", ["envoy": name], in: director, timeout: 30) }
        let client = fixture.clientOptions(port: port)
        try fixture.fx(["experiment", "submit", "--workspace", workspace, "--name", "steady"] + client)
        try DirectorFixture.waitForEvent("round_closed", ["experiment": "steady"], in: director, timeout: 60)

        // hospital_c's collaborator dies (the Envoy logged its pid).
        let started = try envoys[2].waitForErrorLine(timeout: 30) { $0.contains("experiment 'steady': collaborator started (pid ") }
        let pidText = try #require(started.range(of: "(pid ").map { started[$0.upperBound...].prefix { $0.isNumber } })
        let pid = try #require(Int32(pidText))
        kill(pid, SIGKILL)
        try DirectorFixture.waitForEvent("site_updated", ["experiment": "steady", "envoy": "hospital_c", "state": "failed"], in: director, timeout: 30)
        // Rounds go on without it: a round closes after its departure within this wait of 30 s, where
        // the round timeout would take ten minutes.
        let departed = director.outputLines.count
        try director.waitForLine(timeout: 30, skipping: departed) { EventLine($0)?.matches("round_closed", ["experiment": "steady"]) == true }
        let finished = try DirectorFixture.waitForEvent("experiment_finished", ["experiment": "steady"], in: director, timeout: 120)
        #expect(EventLine(finished)?["status"]?.asString == "succeeded", "\(finished)")
        let status = try #require(try JSONSerialization.jsonObject(with: Data(try fixture.fx(["experiment", "status", "steady", "--json"] + client).utf8)) as? [String: Any])
        let rounds = try #require(status["rounds"] as? [[String: Any]])
        #expect(rounds.last?["reported"] as? [String] == ["hospital_a", "hospital_b"])
        // It took part in every round until it was killed; the round it left names it missing, or
        // reported (the kill can land on either side of its result); after that no round counts it.
        let counted = rounds.map { round in
            ["reported", "missing"].contains { ((round[$0] as? [String]) ?? []).contains("hospital_c") }
        }
        let gone = try #require(counted.firstIndex(of: false), "every round counted hospital_c: \(rounds)")
        #expect(gone >= 1 && counted[gone...].allSatisfy { !$0 }, "hospital_c counted again after it left: \(counted)")
        director.process.terminate()
        _ = try director.waitForExit(timeout: 30)
        for envoy in envoys { envoy.process.terminate() }
    }
}
