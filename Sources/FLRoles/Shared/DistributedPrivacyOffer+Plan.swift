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
        self.init(clipNorm: privacy.clipNorm,
                  noiseStandardDeviation: privacy.noiseMultiplier * privacy.clipNorm / Double(secureAggregation.threshold).squareRoot())
    }
}
