#if canImport(Glibc)
import Glibc
#endif
import FLCore

/// Adam (Kingma and Ba, 2015) with L2 weight decay added to the gradient, as `torch.optim.Adam`:
///
///     g = g + weightDecay·p
///     m = beta1·m + (1 − beta1)·g
///     v = beta2·v + (1 − beta2)·g²
///     p = p − (learningRate / (1 − beta1ᵗ)) · m / (√v / √(1 − beta2ᵗ) + epsilon)
public struct Adam: Optimizer {
    public let layout: ModelLayout
    public var learningRate: Double
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    public var weightDecay: Double
    private var firstMoment: [Float]
    private var secondMoment: [Float]
    private var steps = 0

    public init(layout: ModelLayout, learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0) {
        self.layout = layout
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.firstMoment = [Float](repeating: 0, count: layout.count)
        self.secondMoment = [Float](repeating: 0, count: layout.count)
    }

    public mutating func step(parameters: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>) {
        precondition(parameters.count == layout.count && gradient.count == layout.count, "Adam: buffer size does not match the layout")
        guard let p = parameters.baseAddress, let g = gradient.baseAddress else { return }
        steps += 1
        let n = layout.count
        let t = Double(steps)
        let stepSize = Float(learningRate / (1 - pow(beta1, t)))
        let inverseCorrection2 = Float(1 / (1 - pow(beta2, t)).squareRoot())
        let b1 = Float(beta1), b2 = Float(beta2), c1 = Float(1 - beta1), c2 = Float(1 - beta2)
        let eps = Float(epsilon), wd = Float(weightDecay)
        firstMoment.withUnsafeMutableBufferPointer { mb in
            secondMoment.withUnsafeMutableBufferPointer { vb in
                let m = mb.baseAddress!, v = vb.baseAddress!
                var i = 0
                while i < n {
                    let gi = g[i] + wd * p[i]
                    let mi = b1 * m[i] + c1 * gi
                    let vi = b2 * v[i] + c2 * gi * gi
                    m[i] = mi
                    v[i] = vi
                    p[i] -= stepSize * mi / (vi.squareRoot() * inverseCorrection2 + eps)
                    i &+= 1
                }
            }
        }
    }

    public mutating func reset() {
        steps = 0
        firstMoment = [Float](repeating: 0, count: layout.count)
        secondMoment = [Float](repeating: 0, count: layout.count)
    }

    public var state: OptimizerState {
        OptimizerState(step: steps, buffers: [
            "exp_avg": ModelState(layout: layout, values: firstMoment),
            "exp_avg_sq": ModelState(layout: layout, values: secondMoment),
        ])
    }

    public mutating func restore(_ state: OptimizerState) throws {
        let m = try state.buffer("exp_avg", layout: layout)
        let v = try state.buffer("exp_avg_sq", layout: layout)
        guard state.step >= 0 else { throw OptimizerStateError(reason: "negative step count \(state.step)") }
        firstMoment = m.values
        secondMoment = v.values
        steps = state.step
    }
}
