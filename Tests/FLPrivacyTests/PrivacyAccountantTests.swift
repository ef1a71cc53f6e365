import Foundation
import Testing
@testable import FLPrivacy

/// Reference values from the published tests of the two accountants SwiftFL's follows:
/// - TensorFlow Privacy, tensorflow_privacy/privacy/analysis/rdp_accountant_test.py
///   (github.com/tensorflow/privacy), and
/// - Google's dp_accounting, python/dp_accounting/rdp/rdp_privacy_accountant_test.py
///   (github.com/google/differential-privacy).
/// Each test names the case it takes. Tests/Interop/dp_accounting_interop.py compares a whole grid
/// with dp_accounting itself (`DPAccountingInteropTests`).
@Suite struct PrivacyAccountantTests {
    /// rdp_accountant_test.py, test_compute_rdp_sequence (tolerance as there: delta=1e-5), and
    /// rdp_privacy_accountant_test.py, test_compute_rdp_poisson_sampled_gaussian (rtol 1e-4):
    /// q = 0.01, σ = 2.5, 50 steps. Order 1.5 takes the fractional series, the others the binomial
    /// expansion.
    ///
    /// At order 1.5 the published value (6.5007e-4) is the exact series, whose terms change sign;
    /// dp-accounting 0.6 (PyPI), whose numbers SwiftFL reproduces (DPAccountingInteropTests), sums
    /// the terms' magnitudes instead, an upper bound: it reports 6.70579740668356e-4 there (printed by
    /// `RdpAccountant([1.5]).compose(...)._rdp` in dp-accounting 0.6.0). So that order is held to
    /// dp-accounting 0.6's figure, and to being at least the exact one.
    @Test func sampledGaussianMatchesTheirSequence() {
        var accountant = PrivacyAccountant(orders: [1.5, 2.5, 5, 50, 100, .infinity])
        accountant.compose(samplingRate: 0.01, noiseMultiplier: 2.5, steps: 50)
        let tfPrivacy = [0.00065, 0.001085, 0.00218075, 0.023846, 167.416307]
        let dpAccounting = [6.5007e-04, 1.0854e-03, 2.1808e-03, 2.3846e-02, 1.6742e+02]
        for i in 1..<5 {
            #expect(abs(accountant.rdp[i] - tfPrivacy[i]) < 1e-5, "order \(accountant.orders[i]): \(accountant.rdp[i])")
            #expect(abs(accountant.rdp[i] - dpAccounting[i]) <= 1e-4 * dpAccounting[i], "order \(accountant.orders[i])")
        }
        #expect(abs(accountant.rdp[0] - 6.70579740668356e-4) <= 1e-9 * 6.70579740668356e-4, "\(accountant.rdp[0])")
        #expect(accountant.rdp[0] >= dpAccounting[0])
        #expect(accountant.rdp[5] == .infinity)
    }

    /// rdp_accountant_test.py, test_compute_rdp_scalar: compute_rdp(0.1, 2, 10, 5) ≈ 0.07737 (5 places).
    @Test func sampledGaussianMatchesTheirScalar() {
        var accountant = PrivacyAccountant(orders: [5])
        accountant.compose(samplingRate: 0.1, noiseMultiplier: 2, steps: 10)
        #expect(abs(accountant.rdp[0] - 0.07737) < 5e-6, "\(accountant.rdp[0])")
    }

    /// rdp_accountant_test.py, test_compute_rdp_no_sampling and test_compute_rdp_no_data; and
    /// rdp_privacy_accountant_test.py, test_compute_rdp_gaussian: q = 1 is α/(2σ²), q = 0 is nothing.
    @Test func theEdgesOfSampling() {
        #expect(PrivacyAccountant.rdp(samplingRate: 1, noiseMultiplier: 10, order: 20) == 0.1)
        #expect(PrivacyAccountant.rdp(samplingRate: 0, noiseMultiplier: 10, order: 20) == 0)
        let alpha = 3.14159, sigma = 2.71828
        #expect(abs(PrivacyAccountant.rdp(samplingRate: 1, noiseMultiplier: sigma, order: alpha) - alpha / (2 * sigma * sigma)) < 1e-15)
        // rdp_privacy_accountant_test.py, test_zero_poisson_sample / test_epsilon_non_private_gaussian.
        var none = PrivacyAccountant(orders: [3.14159])
        none.compose(samplingRate: 0, noiseMultiplier: 1, steps: 1)
        #expect(none.epsilon(delta: 1e-10).epsilon == 0)
        var noNoise = PrivacyAccountant(orders: [3.14159])
        noNoise.compose(samplingRate: 1, noiseMultiplier: 0, steps: 1)
        #expect(noNoise.epsilon(delta: 0.1).epsilon == .infinity)
    }

    /// rdp_accountant_test.py, test_get_privacy_spent_check_target_delta (and dp_accounting's
    /// test_compute_epsilon_delta_pure_dp): a constant RDP of 1.1 at orders 2...32 is
    /// ε = 1.32783806176 at δ = 1e-5, from the largest order.
    @Test func pureDPPicksTheLargestOrder() {
        let orders = (2...32).map(Double.init)
        let accountant = PrivacyAccountant(orders: orders, rdp: orders.map { _ in 1.1 })
        let (epsilon, order) = accountant.epsilon(delta: 1e-5)
        #expect(abs(epsilon - 1.32783806176) < 5e-8, "\(epsilon)")
        #expect(order == 32)
    }

    /// The same tests' second case: σ = 4.530877117 without sampling is exactly (1, 1e-6)-DP over the
    /// fine orders 1.000, 1.001, …, 99.999 (assertAlmostEqual: 7 places).
    @Test func gaussianNoiseChosenForEpsilonOne() {
        var accountant = PrivacyAccountant(orders: (1000..<100_000).map { 0.001 * Double($0) })
        accountant.compose(samplingRate: 1, noiseMultiplier: 4.530877117, steps: 1)
        #expect(abs(accountant.epsilon(delta: 1e-6).epsilon - 1) < 5e-8, "\(accountant.epsilon(delta: 1e-6))")
    }

    /// rdp_accountant_test.py, test_check_composition: two compositions add, and the ε at δ = 1e-5 is
    /// at most 8.509656 (the old conversion's value; the improved one is smaller).
    @Test func compositionsAdd() {
        let orders: [Double] = [1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 64, 256]
        var accountant = PrivacyAccountant(orders: orders)
        accountant.compose(samplingRate: 1e-4, noiseMultiplier: 0.4, steps: 40000)
        accountant.compose(samplingRate: 0.1, noiseMultiplier: 2, steps: 100)
        #expect(accountant.epsilon(delta: 1e-5).epsilon <= 8.509656)
        // Composing n steps one at a time is composing them at once.
        var once = PrivacyAccountant(), stepwise = PrivacyAccountant()
        once.compose(samplingRate: 0.3, noiseMultiplier: 1.1, steps: 7)
        for _ in 0..<7 { stepwise.compose(samplingRate: 0.3, noiseMultiplier: 1.1, steps: 1) }
        for (a, b) in zip(once.rdp, stepwise.rdp) {
            // A fractional order whose series does not settle is +∞ either way (left out of the minimum).
            #expect(a == b || abs(a - b) <= 1e-12 * a, "\(a) vs \(b)")
        }
    }

    /// dp_accounting's default orders (RdpAccountant with orders=None; DEFAULT_RDP_ORDERS in 0.6).
    @Test func defaultOrdersAreDPAccountings() {
        let orders = PrivacyAccountant().orders
        #expect(orders.count == 99 + 53 + 4)
        #expect(orders.prefix(3) == [1.1, 1.2, 1.3] && orders[98] == 10.9 && orders[99] == 11 && orders.suffix(5) == [63, 128, 256, 512, 1024])
    }

    /// The fractional series agrees with the binomial expansion where both apply (α an integer taken
    /// as a fraction an ulp away), so neither branch can drift alone.
    @Test func theTwoExpansionsAgree() {
        for (q, sigma, alpha) in [(0.01, 1.1, 8.0), (0.2, 0.8, 5.0), (0.5, 2.0, 32.0)] {
            let integer = PrivacyAccountant.logAInteger(q: q, sigma: sigma, alpha: Int(alpha))
            let fractional = PrivacyAccountant.logAFractional(q: q, sigma: sigma, alpha: alpha.nextUp)
            #expect(abs(integer - fractional) <= 1e-6 * max(1, abs(integer)), "q \(q) σ \(sigma) α \(alpha): \(integer) vs \(fractional)")
        }
    }
}
