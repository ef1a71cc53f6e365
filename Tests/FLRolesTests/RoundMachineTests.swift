import Testing
import FLCore
import FLWire
@testable import FLRoles

/// The round machine alone: inputs in, effects out; no sockets, no disk, no clock but our own.
struct RoundMachineTests {
    typealias Machine = RoundMachine<String>

    static func settings(rounds: Int = 2, collaborators: [String] = ["a", "b"], straggler: StragglerPolicy = StragglerPolicy(),
                         finalValidation: Bool = false, higherIsBetter: Bool = true) -> AggregatorSettings {
        let tasks = ["validate": TaskDefinition(name: "validate", function: .validate), "train": TaskDefinition(name: "train", function: .train)]
        let paths = AggregatorPaths(initialModel: "/x/init.safetensors", bestModel: "/x/best.safetensors", lastModel: "/x/last.safetensors",
                                    checkpointDirectory: "/x/checkpoint", metricsLog: "/x/metrics.jsonl")
        let tls = TLSConfiguration(caCertificatePath: "/x/ca.crt", certificatePath: "/x/a.crt", privateKeyPath: "/x/a.key")
        return AggregatorSettings(experiment: "e", roundsToTrain: rounds, collaborators: collaborators, tasks: tasks,
                                  taskGroups: [TaskGroup(name: "all", tasks: ["validate", "train"])], bestMetric: "validate/accuracy",
                                  higherIsBetter: higherIsBetter, finalValidation: finalValidation, straggler: straggler,
                                  paths: paths, server: ServerConfiguration(tls: tls))
    }

    static func machine(_ settings: AggregatorSettings) throws -> Machine {
        let layout = try ModelLayout([TensorSpec(name: "w", shape: [2])])
        return Machine(settings: settings, initialModel: ModelState(zeros: layout), aggregation: try AggregationSettings().make(layout: layout),
                       checkpoint: nil, bestRound: nil, clock: { Deadline(uptimeNanoseconds: 1_000_000_000) })
    }

    /// A reply's fields, comparable.
    struct Reply: Equatable {
        var status: TaskReply.Status
        var round: Int
        var tasks: [String] = []
        var reason = ""
    }

    static func replies(_ effects: [RoundEffect<String>]) -> [String: Reply] {
        var replies: [String: Reply] = [:]
        for case let .reply(waiter, r) in effects { replies[waiter] = Reply(status: r.status, round: r.round, tasks: r.tasks, reason: r.reason) }
        return replies
    }

    /// Validates with `accuracy` and trains with `values`, as site `name` would.
    static func report(_ m: inout Machine, _ name: String, accuracy: Double, values: [Float], samples: Int = 10) throws {
        let validation = TaskResultMessage(round: m.round, task: "validate", sampleCount: samples, metrics: ["accuracy": accuracy], layout: nil)
        guard case .accept = m.judge(validation, from: name, streamBytes: nil) else { Issue.record("validation refused"); return }
        m.record(validation, from: name, weight: samples)
        let training = TaskResultMessage(round: m.round, task: "train", sampleCount: samples, metrics: [:], layout: m.layout)
        guard case let .accept(_, weight) = m.judge(training, from: name, streamBytes: m.layout.byteCount) else { Issue.record("update refused"); return }
        var update = values
        try m.fold(&update, training, from: name, weight: weight)
    }

    @Test func heldRequestsGetTheirTasksWhenTheRoundOpensAndWaitWhenTheirTimeIsUp() throws {
        var m = try Self.machine(Self.settings())
        m.requestTasks(from: "a", waiter: "a1", wait: 5)
        m.requestTasks(from: "b", waiter: "b1", wait: 5)
        var effects = m.takeEffects()
        let tokens = effects.compactMap { effect -> UInt64? in
            if case let .expireRequest(token, seconds) = effect, seconds == 5 { return token }
            return nil
        }
        #expect(tokens.count == 2 && Self.replies(effects).isEmpty)
        m.start()
        effects = m.takeEffects()
        #expect(Self.replies(effects) == ["a1": Reply(status: .run, round: 0, tasks: ["validate", "train"]),
                                          "b1": Reply(status: .run, round: 0, tasks: ["validate", "train"])])
        // Answered already: the expiry finds nothing to answer.
        m.expire(tokens[0])
        #expect(m.takeEffects().isEmpty)
        // A request while the round's tasks are done is held, then told to wait when its time is up.
        try Self.report(&m, "a", accuracy: 0.5, values: [1, 1])
        _ = m.takeEffects()
        m.requestTasks(from: "a", waiter: "a2", wait: 1)
        guard case let .expireRequest(token, _)? = m.takeEffects().last else { Issue.record("not held"); return }
        m.expire(token)
        #expect(Self.replies(m.takeEffects()) == ["a2": Reply(status: .wait, round: 0)])
    }

    @Test func aRoundClosesWhenEveryoneReportedWithWeightedMetricsAndACheckpointThenTheNextOpens() throws {
        var m = try Self.machine(Self.settings())
        m.start()
        _ = m.takeEffects()
        try Self.report(&m, "a", accuracy: 0.2, values: [1, 1], samples: 10)
        #expect(m.round == 0)
        try Self.report(&m, "b", accuracy: 0.6, values: [5, 5], samples: 30)
        let effects = m.takeEffects()
        var closed: RoundInfo?
        var checkpoint: AggregatorCheckpoint?
        var started: Int?
        for effect in effects {
            switch effect {
            case let .event(.roundClosed(summary)): closed = summary
            case let .save(.roundCheckpoint(c, _, _)): checkpoint = c
            case let .event(.roundStarted(round, _, _, _)): started = round
            default: break
            }
        }
        let summary = try #require(closed)
        #expect(summary.reported == ["a", "b"] && summary.missing.isEmpty && summary.best)
        #expect(abs(summary.metrics["validate/accuracy"]! - (0.2 * 10 + 0.6 * 30) / 40) < 1e-12)
        #expect(checkpoint?.roundsCompleted == 1 && checkpoint?.model.values == [4, 4])
        #expect(started == 1 && m.round == 1)
    }

    @Test func theStragglerPolicyClosesWithEnoughRetriesWithTooFewAndFailsAfterItsRetries() throws {
        let policy = StragglerPolicy(minimumReporting: .count(2), roundTimeout: 30, shortfall: .retry(1))
        var m = try Self.machine(Self.settings(collaborators: ["a", "b", "c"], straggler: policy))
        // Connected: a missing site that had disconnected would let the round close before its timeout.
        for name in ["a", "b", "c"] { _ = m.connect(name) }
        m.start()
        #expect(m.takeEffects().contains { if case .roundTimer(0, 0, 30) = $0 { true } else { false } })
        try Self.report(&m, "a", accuracy: 0.5, values: [1, 1])
        m.roundTimedOut(round: 0, attempt: 0)
        #expect(m.round == 0 && m.attempt == 1 && m.phase == .training)
        // A stale timer of the first attempt changes nothing.
        m.roundTimedOut(round: 0, attempt: 0)
        #expect(m.attempt == 1)
        try Self.report(&m, "a", accuracy: 0.5, values: [1, 1])
        try Self.report(&m, "b", accuracy: 0.5, values: [1, 1])
        _ = m.takeEffects()
        m.roundTimedOut(round: 0, attempt: 1)
        let closed = m.takeEffects().compactMap { if case let .event(.roundClosed(s)) = $0 { s } else { nil } }
        #expect(closed.map(\.missing) == [["c"]] && m.round == 1)
        m.roundTimedOut(round: 1, attempt: 0)
        m.roundTimedOut(round: 1, attempt: 1)
        #expect(m.phase == .done && m.outcome?.succeeded == false)
    }

    @Test func theBestModelFollowsTheMetricsDirection() throws {
        var m = try Self.machine(Self.settings(rounds: 3, collaborators: ["a"], higherIsBetter: false))
        m.start()
        for loss in [0.5, 0.3, 0.4] { try Self.report(&m, "a", accuracy: loss, values: [1, 1]) }
        let best = m.takeEffects().compactMap { if case let .save(.bestModel(_, note)) = $0 { note.round } else { nil } }
        #expect(best == [0, 1] && m.bestRound == 1 && m.bestValue == 0.3)
        #expect(m.outcome?.succeeded == true)
    }

    @Test func theBestModelIsLoadedOffTheLockAndValidatedOnceMore() throws {
        var m = try Self.machine(Self.settings(rounds: 2, collaborators: ["a"], finalValidation: true))
        m.start()
        for accuracy in [0.9, 0.1] { try Self.report(&m, "a", accuracy: accuracy, values: [1, 1]) }
        // The final validation measures the final model, worse than round 0's.
        let validation = TaskResultMessage(round: m.round, task: "validate", sampleCount: 5, metrics: ["accuracy": 0.2], layout: nil)
        m.record(validation, from: "a", weight: 5)
        #expect(m.phase == .loadingBestModel)
        #expect(m.takeEffects().contains { if case .loadBestModel = $0 { true } else { false } })
        // Meanwhile nothing is collected and a request for tasks is held.
        guard case .refuse(.conflict, _) = m.judge(validation, from: "a", streamBytes: nil) else { Issue.record("accepted while loading"); return }
        m.requestTasks(from: "a", waiter: "a1", wait: 5)
        #expect(Self.replies(m.takeEffects()).isEmpty)
        m.bestModelLoaded(ModelState(zeros: m.layout))
        #expect(m.phase == .bestValidation && m.round == 3)
        #expect(Self.replies(m.takeEffects())["a1"]?.tasks == ["validate"])
    }

    @Test func finishingTellsEveryHeldRequestOnce() throws {
        var m = try Self.machine(Self.settings())
        m.start()
        try Self.report(&m, "a", accuracy: 0.5, values: [1, 1])
        m.requestTasks(from: "a", waiter: "a1", wait: 5)
        _ = m.takeEffects()
        m.depart("b", reason: "gone")
        // b's departure leaves a alone in the round, which it completed: the round closes and round 1 opens for a.
        #expect(Self.replies(m.takeEffects())["a1"]?.status == .run)
        m.requestTasks(from: "a", waiter: "a2", wait: 5)
        m.finish(succeeded: false, reason: "stopped")
        m.finish(succeeded: false, reason: "again")
        let effects = m.takeEffects()
        // a2 got round 1's tasks at once: nothing was held, so nobody else is told.
        #expect(Self.replies(effects) == ["a2": Reply(status: .run, round: 1, tasks: ["validate", "train"])])
        #expect(effects.filter { if case .finished = $0 { true } else { false } }.count == 1)
        m.requestTasks(from: "b", waiter: "b1", wait: 5)
        #expect(Self.replies(m.takeEffects()) == ["b1": Reply(status: .done, round: 1, reason: "stopped")])
    }

    @Test func aDepartedSiteThatAsksForTasksAgainTakesPartFromTheNextRound() throws {
        var m = try Self.machine(Self.settings(rounds: 3))
        m.start()
        _ = m.takeEffects()
        try Self.report(&m, "a", accuracy: 0.5, values: [1, 1])
        m.depart("b", reason: "its envoy went offline")
        // Round 0 closed without b; round 1 goes on without it: a request from b is only held.
        #expect(m.round == 1)
        m.requestTasks(from: "a", waiter: "a1", wait: 5)
        #expect(Self.replies(m.takeEffects())["a1"]?.tasks == ["validate", "train"])
        m.requestTasks(from: "b", waiter: "b1", wait: 5)
        #expect(Self.replies(m.takeEffects())["b1"] == nil)
        // Once a reports, round 2 opens for both: b's held request gets its tasks.
        try Self.report(&m, "a", accuracy: 0.6, values: [1, 1])
        #expect(m.round == 2)
        #expect(Self.replies(m.takeEffects())["b1"] == Reply(status: .run, round: 2, tasks: ["validate", "train"]))
    }

    @Test func aBestModelThatCannotBeReadBackEndsTheExperimentWithTheFinalModelsNumbers() throws {
        var m = try Self.machine(Self.settings(rounds: 2, collaborators: ["a", "b"], finalValidation: true))
        for name in ["a", "b"] { _ = m.connect(name) }
        m.start()
        for accuracy in [0.9, 0.1] {
            try Self.report(&m, "a", accuracy: accuracy, values: [1, 1])
            try Self.report(&m, "b", accuracy: accuracy, values: [1, 1])
        }
        for name in ["a", "b"] {
            m.record(TaskResultMessage(round: m.round, task: "validate", sampleCount: 5, metrics: ["accuracy": 0.2], layout: nil), from: name, weight: 5)
        }
        #expect(m.phase == .loadingBestModel)
        // A departure while the best model is read back changes nothing but the log.
        m.depart("b", reason: "gone")
        #expect(m.phase == .loadingBestModel && m.outcome == nil)
        _ = m.takeEffects()
        m.bestModelLoaded(nil)
        #expect(m.phase == .done && m.outcome?.succeeded == true && m.outcome?.finalMetrics["validate/accuracy"] == 0.2)
        #expect(m.takeEffects().contains { if case .finished = $0 { true } else { false } })
    }
}
