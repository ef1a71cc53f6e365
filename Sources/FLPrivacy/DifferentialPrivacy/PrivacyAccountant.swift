import Foundation

/// Rényi differential privacy of the sampled Gaussian mechanism (Mironov, Talwar and Zhang 2019,
/// "Rényi Differential Privacy of the Sampled Gaussian Mechanism", arXiv:1908.10530), composed over
/// rounds and converted to (ε, δ).
///
/// One step is one round of DP-FedAvg: each site is in the round with probability q (Poisson
/// sampling; a fixed-size sample of fraction q is the usual approximation of it), its clipped
/// update has sensitivity C, and the sum gets N(0, (σC)²) noise. RDP composes by adding, so the
/// accountant keeps the total at each order α and converts with the bound of Canonne, Kamath and
/// Steinke 2020 (arXiv:2004.00010, Proposition 12), as TensorFlow Privacy and Google's
/// dp_accounting do: ε = min over α of rdp(α) + log((α−1)/α) − (log δ + log α)/(α−1).
public struct PrivacyAccountant: Sendable, Hashable {
    /// The orders dp_accounting's `RdpAccountant` uses when given none (`DEFAULT_RDP_ORDERS` of
    /// dp-accounting 0.6 on PyPI): 1.1, 1.2, …, 10.9, then 11 … 63, 128, 256, 512, 1024.
    public static let defaultOrders: [Double] = {
        let fractional: [Double] = (1..<100).map { (x: Int) -> Double in 1 + Double(x) / 10 }
        let integers: [Double] = (11..<64).map { (x: Int) -> Double in Double(x) }
        return fractional + integers + [128, 256, 512, 1024]
    }()

    /// The orders α (each ≥ 1) at which RDP is tracked.
    public let orders: [Double]
    /// The RDP spent so far at each order (same indices as `orders`); may be infinite.
    public private(set) var rdp: [Double]

    public init(orders: [Double] = PrivacyAccountant.defaultOrders) {
        precondition(orders.allSatisfy { $0 >= 1 }, "PrivacyAccountant: every order must be at least 1")
        self.orders = orders
        rdp = [Double](repeating: 0, count: orders.count)
    }

    /// An accountant that has spent `rdp` already (tests of the conversion).
    init(orders: [Double], rdp: [Double]) {
        precondition(orders.count == rdp.count, "PrivacyAccountant: one RDP value per order")
        self.orders = orders
        self.rdp = rdp
    }

    /// Adds `steps` steps of the Gaussian mechanism with noise multiplier σ, each on a Poisson sample
    /// of rate q (1: everyone, the plain Gaussian mechanism, whose RDP is α/(2σ²)).
    public mutating func compose(samplingRate q: Double, noiseMultiplier: Double, steps: Int) {
        precondition(q >= 0 && q <= 1, "PrivacyAccountant: the sampling rate must be in [0, 1], found \(q)")
        precondition(noiseMultiplier >= 0 && steps >= 0, "PrivacyAccountant: negative noise multiplier or steps")
        guard steps > 0 else { return }
        for (i, order) in orders.enumerated() {
            rdp[i] += Double(steps) * Self.rdp(samplingRate: q, noiseMultiplier: noiseMultiplier, order: order)
        }
    }

    /// The smallest ε for which what was composed is (ε, δ)-DP, and the order that gave it.
    /// Infinite when nothing bounds it (σ = 0); 0 when nothing was composed.
    public func epsilon(delta: Double) -> (epsilon: Double, order: Double) {
        precondition(delta > 0 && delta <= 1, "PrivacyAccountant: delta must be in (0, 1], found \(delta)")
        var best = (epsilon: Double.infinity, order: orders.first ?? 0)
        for (alpha, r) in zip(orders, rdp) {
            let epsilon: Double
            if r < 0 {
                // Only numerical trouble makes a divergence negative; dp_accounting says 0 too.
                epsilon = 0
            } else if delta * delta + expm1(-r) > 0 {
                // δ ≥ sqrt(1 − exp(−KL)) already: ε = 0 (the KL bound, for tiny RDP).
                epsilon = 0
            } else if alpha > 1.01 {
                // The conversion is not numerically stable as α → 1 (nor useful there).
                epsilon = r + log1p(-1 / alpha) - log(delta * alpha) / (alpha - 1)
            } else {
                epsilon = .infinity
            }
            if epsilon < best.epsilon { best = (epsilon, alpha) }
        }
        return (max(0, best.epsilon), best.order)
    }

    /// The RDP at order α of one step of the sampled Gaussian mechanism.
    public static func rdp(samplingRate q: Double, noiseMultiplier sigma: Double, order alpha: Double) -> Double {
        if q == 0 { return 0 }
        if alpha.isInfinite || sigma == 0 { return .infinity }
        if q == 1 { return alpha / (2 * sigma * sigma) }
        let logA = alpha == alpha.rounded() && alpha < Double(Int32.max)
            ? logAInteger(q: q, sigma: sigma, alpha: Int(alpha))
            : logAFractional(q: q, sigma: sigma, alpha: alpha)
        return logA / (alpha - 1)
    }

    /// log A_α for integer α (Mironov et al. 2019, Section 3.3): the binomial expansion
    /// A_α = Σ_{k=0}^{α} C(α, k) (1−q)^{α−k} q^k exp((k² − k)/(2σ²)), summed in log space.
    static func logAInteger(q: Double, sigma: Double, alpha: Int) -> Double {
        var logA = -Double.infinity
        let logQ = log(q), log1mQ = log1p(-q), twoSigma2 = 2 * sigma * sigma
        let logGammaAlpha = logGamma(Double(alpha) + 1)
        for k in 0...alpha {
            let logBinomial = logGammaAlpha - logGamma(Double(k) + 1) - logGamma(Double(alpha - k) + 1)
            let term = logBinomial + Double(k) * logQ + Double(alpha - k) * log1mQ + Double(k * k - k) / twoSigma2
            logA = LogSpace.add(logA, term)
        }
        return logA
    }

    /// log A_α for fractional α (Mironov et al. 2019, Section 3.3): A_α splits at
    /// z₀ = σ² log(1/q − 1) + 1/2 into two integrals, each the series
    /// Σ_k C(α, k) q^k (1−q)^{α−k} exp((k² − k)/(2σ²)) · erfc((k − z₀)/(√2 σ))/2 (and its mirror with
    /// q and 1−q and k and α−k swapped).
    ///
    /// As dp_accounting 0.6 does, the terms are summed by magnitude (the generalised binomial
    /// coefficients' signs alternate past k = α + 1, so this bounds A_α from above: ε only grows),
    /// until both terms decrease and fall e³⁰ below the total; a series that has not by the
    /// `maximumFractionalTerms`-th term gives +∞, which leaves the order out of the minimum.
    static func logAFractional(q: Double, sigma: Double, alpha: Double) -> Double {
        var a0 = -Double.infinity, a1 = -Double.infinity
        var last0 = -Double.infinity, last1 = -Double.infinity
        let z0 = sigma * sigma * log(1 / q - 1) + 0.5
        let logQ = log(q), log1mQ = log1p(-q), twoSigma2 = 2 * sigma * sigma, rootTwoSigma = 2.0.squareRoot() * sigma
        let logGammaAlpha = logGamma(alpha + 1)
        for step in 0..<maximumFractionalTerms {
            let k = Double(step), j = alpha - k
            // log |C(α, k)|: lgamma is log |Γ| for the negative arguments past k = α + 1.
            let logBinomial = logGammaAlpha - logGamma(k + 1) - logGamma(j + 1)
            let logS0 = logBinomial + k * logQ + j * log1mQ + (k * k - k) / twoSigma2 + log(0.5) + LogSpace.logErfc((k - z0) / rootTwoSigma)
            let logS1 = logBinomial + j * logQ + k * log1mQ + (j * j - j) / twoSigma2 + log(0.5) + LogSpace.logErfc((z0 - j) / rootTwoSigma)
            a0 = LogSpace.add(a0, logS0)
            a1 = LogSpace.add(a1, logS1)
            let total = LogSpace.add(a0, a1)
            if logS0 < last0 && logS1 < last1 && max(logS0, logS1) < total - 30 { return total }
            (last0, last1) = (logS0, logS1)
        }
        return .infinity
    }

    /// The most terms of the fractional series summed before an order is given up (dp_accounting's
    /// `_MAX_STEPS_LOG_A_FRAC`).
    static let maximumFractionalTerms = 1000

    /// log |Γ(x)| (glibc's lgamma; the typed result picks it over the tuple-returning overload).
    private static func logGamma(_ x: Double) -> Double {
        let value: Double = lgamma(x)
        return value
    }
}
