import FLPrivacy

/// What the round machine keeps for differential privacy (`AggregatorSettings.differentialPrivacy`).
/// Nothing of it is checkpointed: the accountant is recomputed from the rounds completed on
/// `--resume` (each completed round one step), and the noise generator is seeded afresh.
struct RoundPrivacy {
    let parameters: DifferentialPrivacyParameters
    /// The sampling rate of one step: the share of the sites that train in a round.
    let samplingRate: Double
    var accountant: PrivacyAccountant
    var noise = GaussianNoise()
    /// Why training stopped early, once the budget stopped it.
    var budgetStop: String?

    init(parameters: DifferentialPrivacyParameters, samplingRate: Double, roundsCompleted: Int) {
        self.parameters = parameters
        self.samplingRate = samplingRate
        accountant = PrivacyAccountant()
        accountant.compose(samplingRate: samplingRate, noiseMultiplier: parameters.noiseMultiplier, steps: roundsCompleted)
    }

    /// (ε, δ) spent so far.
    var epsilon: Double { accountant.epsilon(delta: parameters.delta).epsilon }

    /// ε after one more round.
    var epsilonAfterNextRound: Double {
        var next = accountant
        next.compose(samplingRate: samplingRate, noiseMultiplier: parameters.noiseMultiplier, steps: 1)
        return next.epsilon(delta: parameters.delta).epsilon
    }
}
