import FLCore

/// How the aggregator moves the global model towards what a round's updates combined into (the
/// FedOpt family, Reddi et al. 2021, "Adaptive Federated Optimization", Algorithm 2). With
/// `Δ = combined − global` as a pseudo-gradient:
///
/// - momentum (FedAvgM, Hsu et al. 2019): `v ← β·v − Δ`, `global ← global − η·v`
/// - adam:    `m ← β₁m + (1−β₁)Δ`, `v ← β₂v + (1−β₂)Δ²`,                 `global ← global + η·m / (√v + τ)`
/// - yogi:    `m` as adam, `v ← v − (1−β₂)Δ²·sign(v − Δ²)`,                 same step
/// - adagrad: `m` as adam, `v ← v + Δ²`,                                     same step
///
/// `v` starts at τ² (the paper's `v₋₁ ≥ τ²`), so the first steps are not divided by nothing. The
/// paper's optimizers have no bias correction, and neither have these. Memory: one model-sized
/// buffer for momentum, two for the adaptive ones; they are the state a checkpoint keeps.
public final class ServerOptimizer {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case momentum, adam, yogi, adagrad
    }

    public let kind: Kind
    let learningRate: Float
    let beta1: Float
    let beta2: Float
    let tau: Float
    private var first: [Float]
    private var second: [Float]

    /// `beta1` is the momentum of `.momentum`; `beta2` and `tau` matter only to the adaptive kinds.
    public init(kind: Kind, count: Int, learningRate: Float, beta1: Float, beta2: Float = 0.99, tau: Float = 1e-3) {
        self.kind = kind
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.tau = tau
        first = [Float](repeating: 0, count: count)
        second = kind == .momentum ? [] : [Float](repeating: tau * tau, count: count)
    }

    /// Moves `global` one step towards `combined × scale` (same count): FedAvg's running sum and the
    /// factor that makes it the mean, so the mean needs no model-sized buffer of its own.
    public func step(global: UnsafeMutableBufferPointer<Float>, combined: UnsafeBufferPointer<Float>, scale: Float = 1) {
        precondition(global.count == first.count && combined.count == first.count, "ServerOptimizer: model size changed")
        let (eta, b1, b2, tau) = (learningRate, beta1, beta2, tau)
        first.withUnsafeMutableBufferPointer { m in
            if kind == .momentum {
                // FedAvgM's own form, bit for bit as before: v ← β·v + (global − mean); global ← global − η·v.
                for i in 0..<global.count {
                    m[i] = b1 * m[i] + (global[i] - combined[i] * scale)
                    global[i] -= eta * m[i]
                }
                return
            }
            second.withUnsafeMutableBufferPointer { v in
                for i in 0..<global.count {
                    let delta = combined[i] * scale - global[i]
                    let square = delta * delta
                    m[i] = b1 * m[i] + (1 - b1) * delta
                    switch kind {
                    case .adam: v[i] = b2 * v[i] + (1 - b2) * square
                    case .yogi: v[i] -= (1 - b2) * square * (v[i] > square ? 1 : v[i] < square ? -1 : 0)
                    case .adagrad: v[i] += square
                    case .momentum: break
                    }
                    global[i] += eta * m[i] / (v[i].squareRoot() + tau)
                }
            }
        }
    }

    /// The buffers a checkpoint keeps, by name (`velocity` for momentum, as FedAvgM always called it).
    public var state: [String: [Float]] {
        kind == .momentum ? ["velocity": first] : ["\(kind.rawValue).m": first, "\(kind.rawValue).v": second]
    }

    /// Restores what `state` returned.
    public func restore(_ state: [String: [Float]]) throws {
        if kind == .momentum {
            guard let v = state["velocity"], v.count == first.count else {
                throw AggregationError("the checkpoint has no server momentum (velocity) of \(first.count) values")
            }
            first = v
            return
        }
        guard let m = state["\(kind.rawValue).m"], let v = state["\(kind.rawValue).v"], m.count == first.count, v.count == second.count else {
            throw AggregationError("the checkpoint has no \(kind.rawValue) moments (\(kind.rawValue).m and \(kind.rawValue).v) of \(first.count) values")
        }
        first = m
        second = v
    }
}
