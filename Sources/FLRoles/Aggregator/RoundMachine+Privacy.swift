import Foundation
import FLCore
import FLPrivacy

extension RoundMachine {
    /// `aggregation`, wrapped so that every update is clipped to the clip norm about the round's model
    /// when the aggregator adds the noise; whoever built the function, it cannot run unclipped.
    static func clippingForPrivacy(_ aggregation: any AggregationFunction, _ settings: AggregatorSettings) -> any AggregationFunction {
        guard let dp = settings.differentialPrivacy, dp.placement == .central else { return aggregation }
        if let clipped = aggregation as? ClippedAggregation, clipped.maxNorm <= dp.clipNorm { return aggregation }
        return ClippedAggregation(aggregation, maxNorm: dp.clipNorm)
    }

    /// The weight an update is folded in with: its capped sample count, or 1 for every update under
    /// differential privacy (the noise is sized for a sum where each site counts at most clip_norm).
    func foldWeight(_ weight: Int) -> Double {
        settings.differentialPrivacy == nil ? Double(weight) : 1
    }

    /// After a training round: composes its step when it released an aggregate (some update was
    /// folded in), and returns ε and δ for the round's metrics.
    mutating func accountPrivacyStep() -> [String: Double] {
        guard var privacy else { return [:] }
        if updatesFolded > 0 {
            privacy.accountant.compose(samplingRate: privacy.samplingRate, noiseMultiplier: privacy.parameters.noiseMultiplier, steps: 1)
        }
        self.privacy = privacy
        return [PrivacyMetrics.epsilon: privacy.epsilon, PrivacyMetrics.delta: privacy.parameters.delta]
    }

    /// Adds N(0, (σC/n)²) to each trained value of the new global model, the mean of n clipped
    /// updates: the same as N(0, (σC)²) on their sum. The preprocess tensors and SCAFFOLD's control
    /// tensors are left alone (they are restored or rescaled after). Only with central placement: with
    /// distributed placement the sites added it.
    mutating func addPrivacyNoise() {
        guard var privacy, privacy.parameters.placement == .central, updatesFolded > 0 else { return }
        let deviation = privacy.parameters.noiseMultiplier * privacy.parameters.clipNorm / Double(updatesFolded)
        let skipped = (frozenRanges + controlRanges).sorted { $0.lowerBound < $1.lowerBound }
        global.values.withUnsafeMutableBufferPointer { values in
            var start = 0
            for range in skipped + [values.count..<values.count] {
                if range.lowerBound > start {
                    privacy.noise.add(to: UnsafeMutableBufferPointer(rebasing: values[start..<range.lowerBound]), standardDeviation: deviation)
                }
                start = max(start, range.upperBound)
            }
        }
        self.privacy = privacy
    }

    /// Before a training round: when the budget (max_epsilon) would be exceeded by it, training
    /// ends here: the final validation opens in its place (when the plan has one; returns false so
    /// the caller opens it), or the experiment ends succeeded (returns true).
    mutating func privacyBudgetStops() -> Bool {
        guard phase == .training, let privacy, privacy.budgetStop == nil, let maximum = privacy.parameters.maximumEpsilon else { return false }
        let next = privacy.epsilonAfterNextRound
        guard next > maximum else { return false }
        let reason = "the privacy budget stopped training: round \(round + 1) would take ε from \(Self.figure(privacy.epsilon)) to "
            + "\(Self.figure(next)), above max_epsilon \(Self.figure(maximum)) (δ = \(privacy.parameters.delta))"
        self.privacy?.budgetStop = reason
        log(.info, reason)
        guard settings.finalValidation else {
            finish(succeeded: true, reason: completionReason)
            return true
        }
        phase = .finalValidation
        return false
    }

    /// Why a successful experiment ended: its rounds, and the budget when that stopped it.
    var completionReason: String {
        let completed = "completed \(roundsCompleted) rounds"
        guard let stop = privacy?.budgetStop else { return completed }
        return "\(completed); \(stop)"
    }

    private static func figure(_ value: Double) -> String {
        value.isFinite ? String(format: "%.4f", value) : "\(value)"
    }
}
