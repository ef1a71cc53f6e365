import FLCore

/// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay, as
/// `torch.optim.SGD` (dampening 0):
///
///     d = g + weightDecay·p
///     v = momentum·v + d                      (when momentum > 0; v starts at 0)
///     d = nesterov ? d + momentum·v : v
///     p = p − learningRate·d
public struct SGD: Optimizer {
    public let layout: ModelLayout
    public var learningRate: Double
    public var momentum: Double
    public var nesterov: Bool
    public var weightDecay: Double
    private var velocity: [Float]
    private var steps = 0

    public init(layout: ModelLayout, learningRate: Double, momentum: Double = 0, nesterov: Bool = false, weightDecay: Double = 0) {
        self.layout = layout
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        self.velocity = momentum > 0 ? [Float](repeating: 0, count: layout.count) : []
    }

    public mutating func step(parameters: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>) {
        precondition(parameters.count == layout.count && gradient.count == layout.count, "SGD: buffer size does not match the layout")
        guard let p = parameters.baseAddress, let g = gradient.baseAddress else { return }
        let n = layout.count
        let lr = Float(learningRate), wd = Float(weightDecay), mu = Float(momentum)
        steps += 1
        if momentum == 0 {
            var i = 0
            while i < n {
                p[i] -= lr * (g[i] + wd * p[i])
                i &+= 1
            }
            return
        }
        if velocity.count != n { velocity = [Float](repeating: 0, count: n) }
        let nesterov = self.nesterov
        velocity.withUnsafeMutableBufferPointer { vb in
            let v = vb.baseAddress!
            var i = 0
            if nesterov {
                while i < n {
                    let d = g[i] + wd * p[i]
                    let vi = mu * v[i] + d
                    v[i] = vi
                    p[i] -= lr * (d + mu * vi)
                    i &+= 1
                }
            } else {
                while i < n {
                    let vi = mu * v[i] + (g[i] + wd * p[i])
                    v[i] = vi
                    p[i] -= lr * vi
                    i &+= 1
                }
            }
        }
    }

    public mutating func reset() {
        steps = 0
        if !velocity.isEmpty { velocity = [Float](repeating: 0, count: layout.count) }
    }

    public var state: OptimizerState {
        let v = velocity.isEmpty ? [Float](repeating: 0, count: layout.count) : velocity
        return OptimizerState(step: steps, buffers: ["momentum_buffer": ModelState(layout: layout, values: v)])
    }

    public mutating func restore(_ state: OptimizerState) throws {
        let v = try state.buffer("momentum_buffer", layout: layout)
        velocity = v.values
        steps = state.step
    }
}
