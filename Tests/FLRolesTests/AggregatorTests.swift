import Foundation
import Testing
import FLCore
import FLRoles
import FLTesting
import FLTraining
import Synchronization
@testable import FLWire
import FLPKI

/// A collaborator played by the test through a raw client, so it can misbehave on purpose.
struct ScriptedSite {
    let name: String
    let client: FrameClient

    init(_ name: String, pki: TestPKI, port: Int) throws {
        self.name = name
        let tls = try pki.issue(name: name)
        client = try FrameClient.connect(host: "127.0.0.1", port: port, context: TLSContext(tls, side: .client), timeout: 5, idleTimeout: 10)
    }

    func hello(as claimed: String? = nil, experiment: String = "test") throws -> AggregatorWelcome {
        try #require(try client.call(CollaboratorHello(collaborator: claimed ?? name, experiment: experiment), timeout: 5) as? AggregatorWelcome)
    }

    func ask(round: Int, wait: Double = 5) throws -> TaskReply {
        try #require(try client.call(TaskRequest(round: round, maximumWaitSeconds: wait), timeout: wait + 5) as? TaskReply)
    }

    func model(round: Int) throws -> [Float] {
        try client.call(ModelRequest(round: round), timeout: 5) { _, stream in try stream!.readFloats() }
    }

    func send(round: Int, task: String, samples: Int = 10, metrics: [String: Double] = [:], values: [Float]? = nil,
              layout: ModelLayout? = nil) throws {
        let message = TaskResultMessage(round: round, task: task, sampleCount: samples, metrics: metrics, layout: values == nil ? nil : layout)
        if let values {
            try client.call(message, stream: FloatBufferSource(values), timeout: 5)
        } else {
            try client.call(message, timeout: 5)
        }
    }

    /// Runs every task of `round` honestly: validations report `accuracy`, training returns `values`.
    func runRound(_ round: Int, values: [Float], layout: ModelLayout, samples: Int = 10, accuracy: Double = 0.5) throws {
        let reply = try ask(round: round)
        #expect(reply.status == .run && reply.round == round)
        _ = try model(round: round)
        for task in reply.tasks {
            if task == "train" {
                try send(round: round, task: task, samples: samples, metrics: ["loss": 1], values: values, layout: layout)
            } else {
                try send(round: round, task: task, samples: samples, metrics: ["accuracy": accuracy])
            }
        }
    }
}

/// The events an aggregator reported, in order.
final class EventRecorder: Sendable {
    private let recorded = Mutex<[AggregatorEvent]>([])
    func record(_ event: AggregatorEvent) { recorded.withLock { $0.append(event) } }
    var events: [AggregatorEvent] { recorded.withLock { $0 } }

    /// The `updateRejected` events as (collaborator, reason).
    var rejections: [(collaborator: String, reason: String)] {
        events.compactMap { if case let .updateRejected(c, r) = $0 { (c, r) } else { nil } }
    }

    /// The outcome reported by the `finished` event, if it came.
    var finished: AggregatorOutcome? {
        events.lazy.compactMap { if case let .finished(o) = $0 { o } else { nil } }.first
    }
}

/// An aggregator in this process with a one-tensor model, and the PKI its sites use.
final class AggregatorHarness {
    let pki: TestPKI
    let directory: TemporaryDirectory
    let log = LogRecorder()
    let recorder = EventRecorder()
    let aggregator: Aggregator
    let port: Int
    let layout: ModelLayout
    private(set) var settings: AggregatorSettings

    init(collaborators: [String] = ["site_a", "site_b"], rounds: Int = 2, parameters: Int = 4,
         straggler: StragglerPolicy = StragglerPolicy(), tasks: [String] = ["aggregated_model_validation", "train"],
         finalValidation: Bool = false, aggregation: AggregationSettings = AggregationSettings(),
         sampleCaps: [String: Int] = [:], modelMetadata: [String: String] = [:], standardizationFeatures: Int? = nil,
         adjustPaths: (inout AggregatorPaths) -> Void = { _ in }, resume: Bool = false, reuse: (TestPKI, TemporaryDirectory)? = nil,
         fractionPerRound: Double = 1, scaffold: Bool = false) throws {
        pki = try reuse?.0 ?? TestPKI()
        directory = try reuse?.1 ?? TemporaryDirectory()
        let network = try ModelLayout([TensorSpec(name: "w", shape: [parameters])])
        let carried = try standardizationFeatures.map { try Standardizer.layout(network, preprocessingFeatures: $0) } ?? network
        layout = scaffold ? try ScaffoldControl.layout(carried, controlling: network) : carried
        let server = try pki.issue(name: "aggregator", role: .aggregator)
        let dir = directory.path
        var paths = AggregatorPaths(initialModel: "\(dir)/init.safetensors", bestModel: "\(dir)/best.safetensors", lastModel: "\(dir)/last.safetensors",
                                    checkpointDirectory: "\(dir)/checkpoint", metricsLog: "\(dir)/metrics.jsonl")
        adjustPaths(&paths)
        settings = AggregatorSettings(
            experiment: "test", roundsToTrain: rounds, collaborators: collaborators,
            tasks: ["aggregated_model_validation": TaskDefinition(name: "aggregated_model_validation", function: .validate),
                    "train": TaskDefinition(name: "train", function: .train)],
            taskGroups: [TaskGroup(name: "all", tasks: tasks)], bestMetric: "aggregated_model_validation/accuracy",
            finalValidation: finalValidation, aggregation: aggregation, straggler: straggler, maximumSampleCount: 1_000_000,
            sampleCaps: sampleCaps, longPollSeconds: 10, modelMetadata: modelMetadata, standardizationFeatures: standardizationFeatures,
            paths: paths,
            server: ServerConfiguration(tls: server, handshakeTimeout: 5, idleTimeout: 10))
        settings.fractionPerRound = fractionPerRound
        // On disk as `fx plan initialize` leaves it: the best model of round 0 is a link to it.
        if !FileManager.default.fileExists(atPath: paths.initialModel) {
            try Safetensors.write(ModelState(zeros: layout), to: paths.initialModel)
        }
        let checkpoint = resume ? try AggregatorCheckpoint.read(from: "\(dir)/checkpoint") : nil
        let recorder = self.recorder
        aggregator = try Aggregator(settings: settings, initialModel: ModelState(zeros: layout), resumeFrom: checkpoint,
                                    logger: log.logger(label: "aggregator"), onEvent: { recorder.record($0) })
        port = try aggregator.start()
    }

    func site(_ name: String) throws -> ScriptedSite { try ScriptedSite(name, pki: pki, port: port) }

    deinit { aggregator.stop() }
}

@Suite struct AggregatorTests {
    @Test func averagesUpdatesWeightedBySampleCount() throws {
        let h = try AggregatorHarness(rounds: 1)
        let a = try h.site("site_a"), b = try h.site("site_b")
        _ = try a.hello()
        _ = try b.hello()
        try a.runRound(0, values: [1, 1, 1, 1], layout: h.layout, samples: 10)
        try b.runRound(0, values: [5, 5, 5, 5], layout: h.layout, samples: 30)
        let outcome = h.aggregator.wait(grace: 0)
        #expect(outcome.succeeded)
        let last = try Safetensors.read(h.settings.paths.lastModel).model
        #expect(last.values == [4, 4, 4, 4])  // (1·10 + 5·30) / 40
        let records = try MetricsLog.read(h.settings.paths.metricsLog)
        #expect(records.contains { $0.origin == "site_a" && $0.task == "train" && $0.metric == "loss" })
        #expect(records.contains { $0.origin == "aggregator" && $0.task == "aggregated_model_validation" && $0.value == 0.5 })
    }

    /// fraction_per_round 0.5 of 4 sites: each round exactly the 2 sites the assigner samples train,
    /// the others are told to wait, and the round closes on the sampled ones alone.
    @Test func clientSamplingTrainsTheSampledSitesOnly() throws {
        let names = ["site_a", "site_b", "site_c", "site_d"]
        let h = try AggregatorHarness(collaborators: names, rounds: 3, tasks: ["train"], fractionPerRound: 0.5)
        let sites = try names.map { try h.site($0) }
        for site in sites { _ = try site.hello() }
        let assigner = TaskAssigner(groups: h.settings.taskGroups, collaborators: names, seed: h.settings.assignerSeed)
        var trained: Set<String> = []
        for round in 0..<3 {
            let chosen = assigner.sample(names, fraction: 0.5, round: round)
            #expect(chosen.count == 2)
            for site in sites where !chosen.contains(site.name) {
                #expect(try site.ask(round: round, wait: 0.2).status == .wait, "\(site.name) was given work in round \(round)")
            }
            for site in sites where chosen.contains(site.name) {
                try site.runRound(round, values: [Float](repeating: Float(round + 1), count: 4), layout: h.layout)
            }
            trained.formUnion(chosen)
        }
        let outcome = h.aggregator.wait(grace: 0)
        #expect(outcome.succeeded, "\(outcome.reason)")
        let records = try MetricsLog.read(h.settings.paths.metricsLog)
        for round in 0..<3 {
            let reported = Set(records.filter { $0.round == round && $0.task == "train" && $0.origin != "aggregator" }.map(\.origin))
            #expect(reported == assigner.sample(names, fraction: 0.5, round: round), "round \(round): \(reported)")
        }
        #expect(trained.count >= 3, "three rounds sampled only \(trained)")
    }

    /// SCAFFOLD's control tensors move by |S|/N of their average change: with 2 of 4 sites sampled,
    /// half of it (c ← c + ½·mean(Δcᵢ)); the model's own tensors take the plain average.
    @Test func scaffoldsControlVariateMovesByTheSampledShare() throws {
        let names = ["site_a", "site_b", "site_c", "site_d"]
        let h = try AggregatorHarness(collaborators: names, rounds: 1, tasks: ["train"], fractionPerRound: 0.5, scaffold: true)
        let sites = try names.map { try h.site($0) }
        for site in sites { _ = try site.hello() }
        let chosen = TaskAssigner(groups: h.settings.taskGroups, collaborators: names, seed: h.settings.assignerSeed).sample(names, fraction: 0.5, round: 0)
        for site in sites where chosen.contains(site.name) {
            try site.runRound(0, values: [1, 1, 1, 1, 4, 4, 4, 4], layout: h.layout)
        }
        #expect(h.aggregator.wait(grace: 0).succeeded)
        #expect(try Safetensors.read(h.settings.paths.lastModel).model.values == [1, 1, 1, 1, 2, 2, 2, 2])
    }

    @Test func refusesACollaboratorNotInCols() throws {
        let h = try AggregatorHarness()
        let mallory = try h.site("mallory")
        let error = try #require(throws: (any Error).self) { _ = try mallory.hello() }
        #expect("\(error)".contains("not allowed") || "\(error)".contains("not a collaborator"), "\(error)")
        #expect(h.log.waitForLine(timeout: 5) { $0.message.contains("mallory") && $0.level == .warning } != nil)
        // An honest site is still served.
        #expect(try h.site("site_a").hello().experiment == "test")
    }

    @Test func refusesACollaboratorSpeakingAsAnother() throws {
        let h = try AggregatorHarness()
        let a = try h.site("site_a")
        let error = try #require(throws: ErrorReply.self) { _ = try a.hello(as: "site_b") }
        #expect(error.code == .notAllowed)
        #expect(h.log.waitForLine(timeout: 5) { $0.message.contains("says it is 'site_b'") } != nil)
    }

    @Test func rejectsUpdatesWithWrongNamesShapesValuesOrCounts() throws {
        let h = try AggregatorHarness(rounds: 1)
        let a = try h.site("site_a"), b = try h.site("site_b")
        _ = try a.hello()
        _ = try b.hello()
        #expect(try a.ask(round: 0).tasks == ["aggregated_model_validation", "train"])
        try a.send(round: 0, task: "aggregated_model_validation", metrics: ["accuracy": 1])

        let wrongName = try ModelLayout([TensorSpec(name: "v", shape: [4])])
        let wrongShape = try ModelLayout([TensorSpec(name: "w", shape: [2, 2])])
        let cases: [(String, () throws -> Void)] = [
            ("tensor 'w' is missing", { try a.send(round: 0, task: "train", values: [1, 1, 1, 1], layout: wrongName) }),
            ("has shape [2, 2], expected [4]", { try a.send(round: 0, task: "train", values: [1, 1, 1, 1], layout: wrongShape) }),
        ]
        // The first refusal counts as site_a's train result (excluded); later ones are refused as already reported.
        for (i, (expected, send)) in cases.enumerated() {
            let error = try #require(throws: ErrorReply.self) { try send() }
            #expect(error.message.contains(i == 0 ? expected : "already reported"), "\(error.message)")
        }
        #expect(h.log.waitForLine(timeout: 5) { $0.message.contains("from site_a") && $0.message.contains("tensor 'w' is missing") } != nil)

        // site_b: NaN is refused, so the round ends with no accepted update and the model stays zero.
        #expect(try b.ask(round: 0).status == .run)
        try b.send(round: 0, task: "aggregated_model_validation", metrics: ["accuracy": 1])
        let nan = try #require(throws: ErrorReply.self) { try b.send(round: 0, task: "train", values: [1, .nan, 1, 1], layout: h.layout) }
        #expect(nan.message.contains("NaN or infinity"))
        #expect(h.aggregator.wait(grace: 0).succeeded)
        #expect(try Safetensors.read(h.settings.paths.lastModel).model.values == [0, 0, 0, 0])
    }

    @Test func rejectsImplausibleSampleCountsAndUnassignedTasks() throws {
        let h = try AggregatorHarness(rounds: 1, tasks: ["train"])
        let a = try h.site("site_a")
        _ = try a.hello()
        let unassigned = try #require(throws: ErrorReply.self) { try a.send(round: 0, task: "aggregated_model_validation", metrics: ["accuracy": 1]) }
        #expect(unassigned.message.contains("not assigned"))
        let wrongRound = try #require(throws: ErrorReply.self) { try a.send(round: 3, task: "train", values: [1, 1, 1, 1], layout: h.layout) }
        #expect(wrongRound.message.contains("current round is 0"))
        let zero = try #require(throws: ErrorReply.self) { try a.send(round: 0, task: "train", samples: 0, values: [1, 1, 1, 1], layout: h.layout) }
        #expect(zero.message.contains("sample count is 0"))
        let b = try h.site("site_b")
        _ = try b.hello()
        let huge = try #require(throws: ErrorReply.self) { try b.send(round: 0, task: "train", samples: 10_000_000, values: [1, 1, 1, 1], layout: h.layout) }
        #expect(huge.message.contains("exceeds the plausible maximum"))
        let warnings = h.log.lines.filter { $0.level == .warning && $0.message.hasPrefix("rejected") }
        #expect(warnings.count == 4)
        #expect(warnings.allSatisfy { $0.fields["peer"] == "site_a" || $0.fields["peer"] == "site_b" })
    }

    @Test func aWaitingCollaboratorIsWokenWhenTheNextRoundOpens() throws {
        let h = try AggregatorHarness(rounds: 2)
        let a = try h.site("site_a"), b = try h.site("site_b")
        _ = try a.hello()
        _ = try b.hello()
        try a.runRound(0, values: [1, 1, 1, 1], layout: h.layout)
        // site_a asks for round 1 while round 0 still waits for site_b: the request is held, then answered.
        let waiting = DispatchSemaphore(value: 0)
        let answer = Mutex<TaskReply?>(nil)
        Thread {
            answer.withLock { $0 = try? a.ask(round: 1, wait: 10) }
            waiting.signal()
        }.start()
        try b.runRound(0, values: [3, 3, 3, 3], layout: h.layout)
        #expect(waiting.wait(timeout: .now() + 10) == .success)
        let reply = try #require(answer.withLock { $0 })
        #expect(reply.status == .run && reply.round == 1)
        #expect(try a.model(round: 1) == [2, 2, 2, 2])
    }

    @Test func aRoundClosesAtTheTimeoutWhenEnoughReported() throws {
        let h = try AggregatorHarness(collaborators: ["site_a", "site_b", "site_c"], rounds: 1,
                                      straggler: StragglerPolicy(minimumReporting: .count(2), roundTimeout: 0.5, shortfall: .fail))
        let a = try h.site("site_a"), b = try h.site("site_b"), c = try h.site("site_c")
        _ = try a.hello()
        _ = try b.hello()
        _ = try c.hello()  // connected, but never does its work
        try a.runRound(0, values: [2, 2, 2, 2], layout: h.layout)
        try b.runRound(0, values: [4, 4, 4, 4], layout: h.layout)
        let outcome = h.aggregator.wait(grace: 0)
        #expect(outcome.succeeded)
        #expect(try Safetensors.read(h.settings.paths.lastModel).model.values == [3, 3, 3, 3])
        #expect(h.log.lines.contains { $0.message.contains("timed out; closing with 2 of 3") && $0.message.contains("site_c") })
    }

    @Test func aRoundClosesAsSoonAsOnlyDisconnectedCollaboratorsAreMissing() throws {
        let h = try AggregatorHarness(collaborators: ["site_a", "site_b", "site_c"], rounds: 1,
                                      straggler: StragglerPolicy(minimumReporting: .count(2), roundTimeout: 600, shortfall: .fail))
        let a = try h.site("site_a"), b = try h.site("site_b")
        _ = try a.hello()
        _ = try b.hello()
        try a.runRound(0, values: [2, 2, 2, 2], layout: h.layout)
        try b.runRound(0, values: [4, 4, 4, 4], layout: h.layout)
        // site_c never connected: waiting out the 600 s timeout would change nothing.
        #expect(h.aggregator.wait(grace: 0).succeeded)
        #expect(h.log.lines.contains { $0.message.contains("closing without site_c (disconnected)") })
    }

    @Test func aDepartedSiteLeavesItsRoundAtOnceAndLaterRoundsUntilItConnectsAgain() throws {
        // Everyone must report and the timeout is far away: only the departure can close the round.
        let h = try AggregatorHarness(collaborators: ["site_a", "site_b", "site_c"], rounds: 3,
                                      straggler: StragglerPolicy(minimumReporting: .all, roundTimeout: 600))
        let a = try h.site("site_a"), b = try h.site("site_b"), c = try h.site("site_c")
        for site in [a, b, c] { _ = try site.hello() }
        try a.runRound(0, values: [1, 1, 1, 1], layout: h.layout)
        try b.runRound(0, values: [3, 3, 3, 3], layout: h.layout)
        h.aggregator.apply(try #require(AggregatorCommand(jsonLine: AggregatorCommand.depart(collaborator: "site_c", reason: "its collaborator failed").jsonLine)))
        // Round 1 is open for the two left; site_c gets nothing while its old connection lingers.
        #expect(try c.ask(round: 1, wait: 0.2).status == .wait)
        // Its Envoy starts it again: a new connection rejoins from the next round.
        let again = try h.site("site_c")
        _ = try again.hello()
        try a.runRound(1, values: [1, 1, 1, 1], layout: h.layout)
        try b.runRound(1, values: [1, 1, 1, 1], layout: h.layout)
        for site in [a, b, again] { try site.runRound(2, values: [2, 2, 2, 2], layout: h.layout) }
        let outcome = h.aggregator.wait(grace: 0)
        #expect(outcome.succeeded, "\(outcome.reason)")
        let closed = h.recorder.events.compactMap { if case let .roundClosed(s) = $0 { s } else { nil } }
        #expect(closed.map(\.reported) == [["site_a", "site_b"], ["site_a", "site_b"], ["site_a", "site_b", "site_c"]])
        #expect(closed.first?.missing == ["site_c"])
        #expect(h.log.lines.contains { $0.message.contains("site_c departed (its collaborator failed): round 0 goes on without it") })
        #expect(AggregatorCommand(jsonLine: "{\"command\":\"explode\"}") == nil)
    }

    @Test func aRoundWhoseEveryCollaboratorDepartedFails() throws {
        let h = try AggregatorHarness(collaborators: ["site_a"], rounds: 2, straggler: StragglerPolicy(minimumReporting: .all, roundTimeout: 600))
        _ = try h.site("site_a").hello()
        h.aggregator.depart("site_a", reason: "its Envoy went offline")
        let outcome = h.aggregator.wait(grace: 0)
        #expect(!outcome.succeeded && outcome.reason.contains("every collaborator of round 0 departed (site_a)"), "\(outcome.reason)")
    }

    @Test func theSitesStatisticsAddUpToTheStandardizerTheModelCarriesFromRoundOne() throws {
        let h = try AggregatorHarness(collaborators: ["site_a", "site_b", "site_c"], rounds: 1, tasks: ["aggregated_model_validation"],
                                      sampleCaps: ["site_a": 10, "site_b": 10, "site_c": 10], standardizationFeatures: 2)
        let a = try h.site("site_a"), b = try h.site("site_b"), c = try h.site("site_c")
        #expect(try a.hello().wantsFeatureStatistics)
        _ = try b.hello()
        _ = try c.hello()
        // site_a's rows (0, 0) and (2, 4); site_b's (4, 4) and (6, 8): only sums travel.
        try a.client.call(FeatureStatisticsReport(count: 2, sum: [2, 4], sumOfSquares: [4, 16]), timeout: 5)
        let wrong = #expect(throws: ErrorReply.self) { try b.client.call(FeatureStatisticsReport(count: 2, sum: [1, 1, 1], sumOfSquares: [1, 1, 1]), timeout: 5) }
        #expect(wrong?.message == "3 features, the model takes 2")
        let impossible = #expect(throws: ErrorReply.self) { try b.client.call(FeatureStatisticsReport(count: 2, sum: [10, 12], sumOfSquares: [1, 80]), timeout: 5) }
        #expect(impossible?.message == "feature 0's sum of squares is smaller than its rows allow")
        let inflated = #expect(throws: ErrorReply.self) { try b.client.call(FeatureStatisticsReport(count: 11, sum: [10, 12], sumOfSquares: [52, 80]), timeout: 5) }
        #expect(inflated?.message == "11 rows, more than the 10 its site registered")
        // A site may send again; its last word counts.
        try b.client.call(FeatureStatisticsReport(count: 2, sum: [10, 12], sumOfSquares: [52, 80]), timeout: 5)
        // Round 1 waits until every site has sent or declined.
        #expect(try a.ask(round: 0, wait: 0.3).status == .wait)
        try c.client.call(FeatureStatisticsReport.declining("this site has 3 training rows, fewer than the 10 it sends statistics about"), timeout: 5)
        let reply = try a.ask(round: 0)
        #expect(reply.status == .run)
        let served = ModelState(layout: h.layout, values: try a.model(round: 0))
        let carried = try #require(try Standardizer.fromPreprocessTensors(of: served, featureCount: 2))
        #expect(carried.mean == [3, 4])
        #expect(abs(carried.scale[0] - Float(5).squareRoot()) < 1e-6 && abs(carried.scale[1] - Float(8).squareRoot()) < 1e-6)
        #expect(h.log.lines.contains { $0.message.contains("the federation's standardizer: 4 training rows from 2 sites (site_a, site_b); left out: site_c (this site has 3") })
        // The standardizer is the federation's, not trained: it stays whatever the updates say.
        for task in reply.tasks { try a.send(round: 0, task: task, metrics: ["accuracy": 0.5]) }
        for site in [b, c] {
            for task in try site.ask(round: 0).tasks { try site.send(round: 0, task: task, metrics: ["accuracy": 0.5]) }
        }
        #expect(h.aggregator.wait(grace: 0).succeeded)
        let last = try Safetensors.read(h.settings.paths.lastModel).model
        #expect(try Standardizer.fromPreprocessTensors(of: last, featureCount: 2) == carried)
    }

    @Test func noStatisticsNoStandardizerNoExperiment() throws {
        let h = try AggregatorHarness(collaborators: ["site_a", "site_b"], rounds: 1, standardizationFeatures: 2)
        var sites: [ScriptedSite] = []
        for name in ["site_a", "site_b"] {
            let site = try h.site(name)
            sites.append(site)
            _ = try site.hello()
            try site.client.call(FeatureStatisticsReport.declining("too few rows"), timeout: 5)
        }
        let outcome = h.aggregator.wait(grace: 0)
        #expect(!outcome.succeeded)
        #expect(outcome.reason.contains("no site sent feature statistics, so the federation has no standardizer (site_a: too few rows; site_b: too few rows)"), "\(outcome.reason)")
    }

    @Test func tooFewReportsFailTheExperimentWhenThePlanSaysFail() throws {
        let h = try AggregatorHarness(collaborators: ["site_a", "site_b", "site_c"], rounds: 1,
                                      straggler: StragglerPolicy(minimumReporting: .count(2), roundTimeout: 0.3, shortfall: .fail))
        let a = try h.site("site_a")
        _ = try a.hello()
        try a.runRound(0, values: [2, 2, 2, 2], layout: h.layout)
        // Held until the round times out, then told the experiment is over and why.
        let reply = try a.ask(round: 1, wait: 10)
        #expect(reply.status == .done && reply.reason.contains("fewer than the minimum 2"))
        let outcome = h.aggregator.wait(grace: 0)
        #expect(!outcome.succeeded)
        #expect(outcome.reason.contains("fewer than the minimum 2"))
    }

    @Test func resumesFromTheLastCompletedRound() throws {
        let first = try AggregatorHarness(rounds: 3)
        let a = try first.site("site_a"), b = try first.site("site_b")
        _ = try a.hello()
        _ = try b.hello()
        try a.runRound(0, values: [1, 1, 1, 1], layout: first.layout)
        try b.runRound(0, values: [1, 1, 1, 1], layout: first.layout)
        // The checkpoint of round 0 is written in the background; round 1 has begun.
        #expect(try a.ask(round: 1).round == 1)
        first.aggregator.stop()
        let second = try AggregatorHarness(rounds: 3, resume: true, reuse: (first.pki, first.directory))
        let a2 = try second.site("site_a")
        #expect(try a2.hello().currentRound == 1)
        #expect(try a2.model(round: 1) == [1, 1, 1, 1])
    }

    /// Every model file the aggregator writes says how to run it: the settings' metadata beside the
    /// checkpoint's own entries, which it cannot override; a resumed checkpoint keeps it.
    @Test func checkpointsCarryTheModelMetadata() throws {
        let h = try AggregatorHarness(rounds: 1, modelMetadata: ["swiftfl.model": "mlp", "rounds_completed": "99"])
        let a = try h.site("site_a"), b = try h.site("site_b")
        _ = try a.hello()
        _ = try b.hello()
        try a.runRound(0, values: [1, 1, 1, 1], layout: h.layout)
        try b.runRound(0, values: [3, 3, 3, 3], layout: h.layout)
        #expect(h.aggregator.wait(grace: 0).succeeded)
        let expected = ["swiftfl.model": "mlp", "experiment": "test", "rounds_completed": "1"]
        #expect(try Safetensors.read(h.settings.paths.lastModel).metadata == expected)
        #expect(try Safetensors.read("\(h.settings.paths.checkpointDirectory)/round-0001.safetensors").metadata == expected)
        let checkpoint = try #require(try AggregatorCheckpoint.read(from: h.settings.paths.checkpointDirectory))
        #expect(checkpoint.modelMetadata == ["swiftfl.model": "mlp"])
    }

    /// 1e36 weighted by 1000 samples overflows float32: the update is left out like any other bad
    /// update (the task counts as reported), and the round's model is the honest site's alone.
    @Test func anUpdateWhoseWeightedSumOverflowsIsLeftOut() throws {
        let h = try AggregatorHarness(rounds: 1, tasks: ["train"])
        let a = try h.site("site_a"), b = try h.site("site_b")
        _ = try a.hello()
        _ = try b.hello()
        #expect(try a.ask(round: 0).status == .run)
        let refused = try #require(throws: ErrorReply.self) {
            try a.send(round: 0, task: "train", samples: 1000, values: [1e36, 1e36, 1e36, 1e36], layout: h.layout)
        }
        #expect(refused.code == .rejected)
        #expect(refused.message.contains("model tensor 'w' overflows the running sum at element 0"), "\(refused.message)")
        try b.runRound(0, values: [2, 2, 2, 2], layout: h.layout)
        #expect(h.aggregator.wait(grace: 0).succeeded)
        #expect(try Safetensors.read(h.settings.paths.lastModel).model.values == [2, 2, 2, 2])
        #expect(h.log.lines.contains { $0.level == .warning && $0.fields["peer"] == "site_a" && $0.message.contains("tensor 'w' overflows") })
        let rejections = h.recorder.rejections
        #expect(rejections.count == 1 && rejections[0].collaborator == "site_a" && rejections[0].reason.contains("overflows"), "\(rejections)")
    }

    /// Finite updates whose FedAvgM step is not finite: the experiment fails, and the broken model is
    /// neither served nor saved.
    @Test func aNonFiniteAggregatedModelEndsTheExperimentUnsaved() throws {
        let h = try AggregatorHarness(rounds: 2, tasks: ["train"],
                                      aggregation: AggregationSettings(function: "fedavgm", serverLearningRate: 1e38, serverMomentum: 0.9))
        let a = try h.site("site_a"), b = try h.site("site_b")
        _ = try a.hello()
        _ = try b.hello()
        try a.runRound(0, values: [10, 10, 10, 10], layout: h.layout)
        try b.runRound(0, values: [10, 10, 10, 10], layout: h.layout)
        // The round closed with site_b's update: the sites are told it is over, and get no model.
        let reply = try a.ask(round: 1)
        #expect(reply.status == .done && reply.reason.contains("not finite"), "\(reply)")
        #expect(throws: ErrorReply.self) { _ = try a.model(round: 1) }
        let outcome = h.aggregator.wait(grace: 0)
        #expect(!outcome.succeeded)
        #expect(outcome.reason.contains("is not finite (tensor 'w'") && outcome.reason.contains("neither saved nor served"), "\(outcome.reason)")
        #expect(h.recorder.finished == outcome)
        #expect(!FileManager.default.fileExists(atPath: h.settings.paths.lastModel))
        #expect(!FileManager.default.fileExists(atPath: "\(h.settings.paths.checkpointDirectory)/state.json"))
    }

    /// A site claiming a million samples for a zero model would drag the average to zero; capped at
    /// the ten rows its site registered, it weighs what the honest site does (models and metrics).
    @Test func aClaimAboveItsSitesRegisteredRowsIsCapped() throws {
        let h = try AggregatorHarness(rounds: 1, sampleCaps: ["site_a": 10, "site_b": 50])
        let a = try h.site("site_a"), b = try h.site("site_b")
        _ = try a.hello()
        _ = try b.hello()
        try a.runRound(0, values: [0, 0, 0, 0], layout: h.layout, samples: 1_000_000, accuracy: 0)
        try b.runRound(0, values: [4, 4, 4, 4], layout: h.layout, samples: 10, accuracy: 1)
        #expect(h.aggregator.wait(grace: 0).succeeded)
        #expect(try Safetensors.read(h.settings.paths.lastModel).model.values == [2, 2, 2, 2])  // (0·10 + 4·10) / 20
        let aggregated = try MetricsLog.read(h.settings.paths.metricsLog).filter { $0.origin == "aggregator" && $0.metric == "accuracy" }
        #expect(aggregated.map(\.value) == [0.5])
        let capped = h.log.lines.filter { $0.level == .warning && $0.message.hasPrefix("capped") }
        #expect(capped.count == 2)  // site_a's validation and training results; site_b claimed less than its cap
        #expect(capped.allSatisfy { $0.fields["peer"] == "site_a" && $0.message.contains("claims 1000000 samples, its site registered 10") },
                "\(capped.map(\.message))")
    }

    @Test func capsMustNameCollaboratorsAndBePositive() throws {
        #expect(throws: AggregationError.self) { _ = try AggregatorHarness(sampleCaps: ["site_a": 0]) }
        #expect(throws: AggregationError.self) { _ = try AggregatorHarness(sampleCaps: ["mallory": 10]) }
    }

    /// The checkpoint folder cannot be created (a file is in the way; as root, permissions would not
    /// stop it): the experiment ends as failed naming the file and the system's error, never as done.
    @Test func aCheckpointThatCannotBeSavedFailsTheExperiment() throws {
        let h = try AggregatorHarness(rounds: 2, tasks: ["train"], adjustPaths: { paths in
            _ = FileManager.default.createFile(atPath: (paths.checkpointDirectory as NSString).deletingLastPathComponent + "/blocker", contents: Data())
            paths.checkpointDirectory = (paths.checkpointDirectory as NSString).deletingLastPathComponent + "/blocker/checkpoint"
        })
        let a = try h.site("site_a"), b = try h.site("site_b")
        _ = try a.hello()
        _ = try b.hello()
        try a.runRound(0, values: [1, 1, 1, 1], layout: h.layout)
        try b.runRound(0, values: [1, 1, 1, 1], layout: h.layout)
        // Once the save has failed, the sites are told the experiment is over, and why.
        #expect(h.log.waitForLine(timeout: 10) { $0.message.contains("failed: cannot save the checkpoint after round 1") } != nil)
        let reply = try a.ask(round: 1)
        #expect(reply.status == .done && reply.reason.contains("cannot save the checkpoint after round 1"), "\(reply)")
        let outcome = h.aggregator.wait(grace: 0)
        #expect(!outcome.succeeded)
        #expect(outcome.reason.hasPrefix("cannot save the checkpoint after round 1: ") && outcome.reason.contains("blocker/checkpoint"), "\(outcome.reason)")
        #expect(h.recorder.finished == outcome)
        #expect(!h.log.lines.contains { $0.message.contains("' completed") })
        #expect(!FileManager.default.fileExists(atPath: h.settings.paths.lastModel))
    }

    /// A failed save in the last round, after the experiment was already decided as complete, still
    /// turns the reported outcome into a failure.
    @Test func aBestModelThatCannotBeSavedFailsEvenAFinishedExperiment() throws {
        let h = try AggregatorHarness(rounds: 1, adjustPaths: { paths in
            paths.bestModel = (paths.bestModel as NSString).deletingLastPathComponent + "/absent/best.safetensors"
        })
        let a = try h.site("site_a"), b = try h.site("site_b")
        _ = try a.hello()
        _ = try b.hello()
        try a.runRound(0, values: [1, 1, 1, 1], layout: h.layout)
        try b.runRound(0, values: [1, 1, 1, 1], layout: h.layout)
        let outcome = h.aggregator.wait(grace: 0)
        #expect(!outcome.succeeded)
        #expect(outcome.reason.hasPrefix("cannot save the best model (the model round 0 started from") && outcome.reason.contains("absent/best"),
                "\(outcome.reason)")
        #expect(h.recorder.finished == outcome)
        #expect(!h.log.lines.contains { $0.message.contains("' completed") })
        // The checkpoint itself was saved: the last model is there.
        #expect(try Safetensors.read(h.settings.paths.lastModel).model.values == [1, 1, 1, 1])
    }
}
