import Testing
import FLPrivacy

@Suite struct PrivacyParametersTests {
    @Test func acceptsWorkableSettings() {
        #expect(SecureAggregationParameters(threshold: 3, clipRange: 1, bits: 32).problem == nil)
        #expect(DifferentialPrivacyParameters(clipNorm: 1, noiseMultiplier: 1.1, delta: 1e-5, maximumEpsilon: 8).problem == nil)
    }

    @Test(arguments: [
        (SecureAggregationParameters(threshold: 1, clipRange: 1), "threshold"),
        (SecureAggregationParameters(threshold: 3, clipRange: 0), "clip_range"),
        (SecureAggregationParameters(threshold: 3, clipRange: .nan), "clip_range"),
        (SecureAggregationParameters(threshold: 3, clipRange: 1, bits: 15), "bits"),
        (SecureAggregationParameters(threshold: 3, clipRange: 1, bits: 33), "bits"),
    ])
    func refusesSecureAggregation(_ parameters: SecureAggregationParameters, _ field: String) {
        #expect(parameters.problem?.hasPrefix(field) == true, "\(parameters.problem ?? "no problem")")
    }

    @Test func theThresholdMustBeAMajorityOfTheCohort() {
        let parameters = SecureAggregationParameters(threshold: 3, clipRange: 1)
        #expect(parameters.problem(cohortSize: 5) == nil)
        #expect(parameters.problem(cohortSize: 4) == nil)
        #expect(parameters.problem(cohortSize: 6) == "threshold must be more than half of the 6 sites (at least 4), found 3")
        #expect(SecureAggregationParameters(threshold: 1, clipRange: 1).problem(cohortSize: 1)?.hasPrefix("threshold must be at least 2") == true)
        #expect([1, 2, 3, 4, 5, 10].map { SecureAggregationParameters.minimumThreshold(cohortSize: $0) } == [2, 2, 2, 3, 3, 6])
    }

    @Test(arguments: [
        (DifferentialPrivacyParameters(clipNorm: -1, noiseMultiplier: 1, delta: 1e-5), "clip_norm"),
        (DifferentialPrivacyParameters(clipNorm: 1, noiseMultiplier: 0, delta: 1e-5), "noise_multiplier"),
        (DifferentialPrivacyParameters(clipNorm: 1, noiseMultiplier: 1, delta: 1), "delta"),
        (DifferentialPrivacyParameters(clipNorm: 1, noiseMultiplier: 1, delta: 1e-5, maximumEpsilon: .infinity), "max_epsilon"),
    ])
    func refusesDifferentialPrivacy(_ parameters: DifferentialPrivacyParameters, _ field: String) {
        #expect(parameters.problem?.hasPrefix(field) == true, "\(parameters.problem ?? "no problem")")
    }
}
