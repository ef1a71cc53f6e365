import FLPrivacy
import FLWire

extension DistributedPrivacyOffer {
    /// Each site's part of distributed differential privacy, from the plan: its change clipped to C,
    /// plus Gaussian noise of standard deviation σC/√t. The sum of the survivors' noise (at least t
    /// of them, secure aggregation's threshold) then has at least the variance (σC)² that central
    /// noise would add, which is what the accountant assumes. Nil unless the plan's placement is
    /// distributed (which the plan allows only with secure aggregation).
    init?(privacy: DifferentialPrivacyParameters?, secureAggregation: SecureAggregationParameters?) {
        guard let privacy, privacy.placement == .distributed, let secureAggregation else { return nil }
        self.init(clipNorm: privacy.clipNorm, noiseStandardDeviation: Self.siteDeviation(privacy, secureAggregation))
    }

    static func siteDeviation(_ privacy: DifferentialPrivacyParameters, _ secureAggregation: SecureAggregationParameters) -> Double {
        privacy.noiseMultiplier * privacy.clipNorm / Double(secureAggregation.threshold).squareRoot()
    }

    /// The least `clip_range` that holds a site's clipped, noisy change: a coordinate is at most C,
    /// and its noise passes 6 deviations with probability 2·10⁻⁹. A range that clamps noise would
    /// leave the sum less noisy than accounted.
    static func smallestClipRange(_ privacy: DifferentialPrivacyParameters, _ secureAggregation: SecureAggregationParameters) -> Double {
        privacy.clipNorm + 6 * siteDeviation(privacy, secureAggregation)
    }
}
