import Foundation
import Testing
import FLCore
import FLPrivacy
import FLWire
@testable import FLRoles

/// Differential privacy in the round machine: clipping, uniform weights, the noise's scale, ε in the
/// round's metrics, the budget stop, and resuming.
struct RoundMachinePrivacyTests {
    typealias Machine = RoundMachine<String>

    static func settings(_ dp: DifferentialPrivacyParameters, rounds: Int = 1, finalValidation: Bool = false) -> AggregatorSettings {
        var settings = RoundMachineTests.settings(rounds: rounds, finalValidation: finalValidation)
        settings.differentialPrivacy = dp
        return settings
    }

    static func machine(_ settings: AggregatorSettings, layout: ModelLayout? = nil, checkpoint: AggregatorCheckpoint? = nil) throws -> Machine {
        let layout = try layout ?? ModelLayout([TensorSpec(name: "w", shape: [2])])
        var m = Machine(settings: settings, initialModel: ModelState(zeros: layout), aggregation: try AggregationSettings().make(layout: layout),
                        checkpoint: checkpoint, bestRound: nil, clock: { Deadline(uptimeNanoseconds: 1_000_000_000) })
        m.privacy?.noise = GaussianNoise(seed: 3)
        return m
    }

    /// The model of the last round checkpoint among `effects`.
    static func checkpointModel(_ effects: [RoundEffect<String>]) -> [Float]? {
        effects.compactMap { if case let .save(.roundCheckpoint(c, _, _)) = $0 { c.model.values } else { nil } }.last
    }

    /// The ε and δ records among `effects`, by round.
    static func privacyRecords(_ effects: [RoundEffect<String>]) -> [Int: [String: Double]] {
        var found: [Int: [String: Double]] = [:]
        for case let .metrics(records) in effects {
            for r in records where r.task == "privacy" {
                #expect(r.origin == "aggregator")
                found[r.round, default: [:]][r.metric] = r.value
            }
        }
        return found
    }

    /// From (0, 0): a's change (3, 4) is clipped to norm 1 → (0.6, 0.8); b's (0.1, 0) stays. Weighted
    /// equally despite 10 and 30 samples: (0.35, 0.4). σ is tiny, so the noise hides nothing here.
    @Test func eachUpdateIsClippedAboutTheRoundsModelAndCountsOnce() throws {
        var m = try Self.machine(Self.settings(DifferentialPrivacyParameters(clipNorm: 1, noiseMultiplier: 1e-6, delta: 1e-5)))
        m.start()
        try RoundMachineTests.report(&m, "a", accuracy: 0.5, values: [3, 4], samples: 10)
        try RoundMachineTests.report(&m, "b", accuracy: 0.5, values: [0.1, 0], samples: 30)
        #expect((m.aggregation as? ClippedAggregation)?.clippedCount == 1)
        let model = try #require(Self.checkpointModel(m.takeEffects()))
        #expect(abs(model[0] - 0.35) < 1e-4 && abs(model[1] - 0.4) < 1e-4, "\(model)")
    }

    /// Two sites whose models did not move: the new model is the noise alone, N(0, (σC/n)²) per value
    /// with σ = 0.5, C = 2, n = 2, so a standard deviation of 0.5 (20,000 values: 5 standard errors
    /// are 0.018 on the mean and 3.5% on the deviation). The preprocess tensors get none.
    @Test func theNoiseIsSigmaTimesTheClipNormOnTheSum() throws {
        let layout = try ModelLayout([TensorSpec(name: "w", shape: [20_000]), TensorSpec(name: "preprocess.mean", shape: [4])])
        var m = try Self.machine(Self.settings(DifferentialPrivacyParameters(clipNorm: 2, noiseMultiplier: 0.5, delta: 1e-5)), layout: layout)
        m.start()
        for site in ["a", "b"] { try RoundMachineTests.report(&m, site, accuracy: 0.5, values: [Float](repeating: 0, count: layout.count)) }
        let model = try #require(Self.checkpointModel(m.takeEffects()))
        let noise = model[0..<20_000].map(Double.init)
        let mean = noise.reduce(0, +) / Double(noise.count)
        let deviation = (noise.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(noise.count - 1)).squareRoot()
        #expect(abs(mean) < 5 * 0.5 / Double(noise.count).squareRoot(), "mean \(mean)")
        #expect(abs(deviation / 0.5 - 1) < 5 / (2 * Double(noise.count)).squareRoot(), "deviation \(deviation)")
        #expect(Array(model[20_000...]) == [0, 0, 0, 0])
    }

    /// After every training round the round's metrics carry ε (one more step composed) and δ, from the
    /// aggregator; the round summary has them too (what `fx experiment status` shows).
    @Test func epsilonIsReportedAfterEveryTrainingRound() throws {
        let dp = DifferentialPrivacyParameters(clipNorm: 1, noiseMultiplier: 1.1, delta: 1e-5)
        var m = try Self.machine(Self.settings(dp, rounds: 3))
        m.start()
        var effects: [RoundEffect<String>] = []
        for _ in 0..<3 {
            try RoundMachineTests.report(&m, "a", accuracy: 0.5, values: [1, 1])
            try RoundMachineTests.report(&m, "b", accuracy: 0.5, values: [1, 1])
            effects += m.takeEffects()
        }
        let records = Self.privacyRecords(effects)
        var expected = PrivacyAccountant()
        for round in 0..<3 {
            expected.compose(samplingRate: 1, noiseMultiplier: 1.1, steps: 1)
            #expect(records[round]?["epsilon"] == expected.epsilon(delta: 1e-5).epsilon, "round \(round): \(records)")
            #expect(records[round]?["delta"] == 1e-5)
        }
        let summaries = effects.compactMap { if case let .event(.roundClosed(s)) = $0 { s } else { nil } }
        #expect(summaries.map { $0.metrics["privacy/epsilon"] } == (0..<3).map { records[$0]?["epsilon"] })
    }

    /// With client sampling the step's rate is fraction_per_round: half the sites, q = 0.5.
    @Test func theSamplingRateIsTheFractionPerRound() throws {
        var settings = Self.settings(DifferentialPrivacyParameters(clipNorm: 1, noiseMultiplier: 0.9, delta: 1e-5), rounds: 1)
        settings.fractionPerRound = 0.5
        var m = try Self.machine(settings)
        m.start()
        let chosen = try #require(m.assignments.keys.first)
        #expect(m.assignments.count == 1)
        try RoundMachineTests.report(&m, chosen, accuracy: 0.5, values: [1, 1])
        var expected = PrivacyAccountant()
        expected.compose(samplingRate: 0.5, noiseMultiplier: 0.9, steps: 1)
        #expect(Self.privacyRecords(m.takeEffects())[0]?["epsilon"] == expected.epsilon(delta: 1e-5).epsilon)
    }

    /// max_epsilon between ε after two rounds and after three: two rounds train, the third is not
    /// started, the final validation runs, and the experiment succeeds saying why it stopped.
    @Test func theBudgetStopsBeforeARoundThatWouldExceedIt() throws {
        var accountant = PrivacyAccountant()
        var epsilons: [Double] = []
        for _ in 0..<3 {
            accountant.compose(samplingRate: 1, noiseMultiplier: 2, steps: 1)
            epsilons.append(accountant.epsilon(delta: 1e-5).epsilon)
        }
        let dp = DifferentialPrivacyParameters(clipNorm: 1, noiseMultiplier: 2, delta: 1e-5, maximumEpsilon: (epsilons[1] + epsilons[2]) / 2)
        var m = try Self.machine(Self.settings(dp, rounds: 10, finalValidation: true))
        m.start()
        for _ in 0..<2 {
            try RoundMachineTests.report(&m, "a", accuracy: 0.5, values: [1, 1])
            try RoundMachineTests.report(&m, "b", accuracy: 0.5, values: [1, 1])
        }
        #expect(m.phase == .finalValidation && m.round == 2 && m.roundsCompleted == 2)
        for site in ["a", "b"] {
            m.record(TaskResultMessage(round: m.round, task: "validate", sampleCount: 5, metrics: ["accuracy": 0.7], layout: nil), from: site, weight: 5)
        }
        let outcome = try #require(m.outcome)
        #expect(outcome.succeeded && outcome.roundsCompleted == 2)
        #expect(outcome.reason.hasPrefix("completed 2 rounds; the privacy budget stopped training: round 3 would take ε from "), "\(outcome.reason)")
        // Without a final validation it ends at once.
        var quick = try Self.machine(Self.settings(dp, rounds: 10, finalValidation: false))
        quick.start()
        for _ in 0..<2 {
            try RoundMachineTests.report(&quick, "a", accuracy: 0.5, values: [1, 1])
            try RoundMachineTests.report(&quick, "b", accuracy: 0.5, values: [1, 1])
        }
        #expect(quick.phase == .done && quick.outcome?.succeeded == true && quick.outcome?.roundsCompleted == 2)
        // A budget that no round fits: nothing trains.
        let none = DifferentialPrivacyParameters(clipNorm: 1, noiseMultiplier: 2, delta: 1e-5, maximumEpsilon: epsilons[0] / 2)
        var idle = try Self.machine(Self.settings(none, rounds: 10, finalValidation: false))
        idle.start()
        #expect(idle.outcome?.succeeded == true && idle.outcome?.roundsCompleted == 0)
    }

    /// `--resume`: ε starts from the rounds the checkpoint completed; a checkpoint written after the
    /// budget's final validation is a finished experiment.
    @Test func resumingRecomputesEpsilonFromTheRoundsCompleted() throws {
        let dp = DifferentialPrivacyParameters(clipNorm: 1, noiseMultiplier: 1.3, delta: 1e-6, maximumEpsilon: 100)
        let layout = try ModelLayout([TensorSpec(name: "w", shape: [2])])
        let checkpoint = AggregatorCheckpoint(experiment: "e", roundsCompleted: 4, model: ModelState(zeros: layout), bestValue: nil)
        let m = try Self.machine(Self.settings(dp, rounds: 10), layout: layout, checkpoint: checkpoint)
        var expected = PrivacyAccountant()
        expected.compose(samplingRate: 1, noiseMultiplier: 1.3, steps: 4)
        #expect(m.privacy?.epsilon == expected.epsilon(delta: 1e-6).epsilon)
        let stopped = AggregatorCheckpoint(experiment: "e", roundsCompleted: 4, finalValidationDone: true, model: ModelState(zeros: layout), bestValue: nil)
        var done = try Self.machine(Self.settings(dp, rounds: 10, finalValidation: true), layout: layout, checkpoint: stopped)
        #expect(done.phase == .done)
        done.start()
        #expect(done.outcome?.succeeded == true)
    }
}
