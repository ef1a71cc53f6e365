import FLCore
import FLTraining
import Foundation
import Testing

@Suite struct OptimizerTests {
    static let layout = try! ModelLayout([TensorSpec(name: "w", shape: [3]), TensorSpec(name: "b", shape: [1])])
    static let start: [Double] = [1.0, -2.0, 0.5, 0.25]
    static let gradients: [[Double]] = [[0.1, 0.2, -0.3, 0.05], [-0.4, 0.1, 0.2, 0.0], [0.3, -0.2, 0.1, -0.1]]

    /// Runs `optimizer` over `gradients` from `start` and returns the parameters after each step.
    func run(_ optimizer: inout some Optimizer, steps: Int) -> [[Double]] {
        var model = ModelState(layout: Self.layout, values: Self.start.map(Float.init))
        var trajectory: [[Double]] = []
        for g in Self.gradients.prefix(steps) {
            optimizer.step(model: &model, gradient: ModelState(layout: Self.layout, values: g.map(Float.init)))
            trajectory.append(model.values.map(Double.init))
        }
        return trajectory
    }

    func expectClose(_ a: [Double], _ b: [Double], _ comment: Comment? = nil) {
        #expect(a.count == b.count)
        for (x, y) in zip(a, b) { #expect(abs(x - y) < 1e-6 * max(1, abs(y)), comment) }
    }

    @Test func plainSGDWithWeightDecay() {
        let lr = 0.1, wd = 0.01
        var sgd = SGD(layout: Self.layout, learningRate: lr, weightDecay: wd)
        let got = run(&sgd, steps: 2)
        var p = Self.start
        for (k, g) in Self.gradients.prefix(2).enumerated() {
            p = zip(p, g).map { p, g in p - lr * (g + wd * p) }
            expectClose(got[k], p, "step \(k + 1)")
        }
    }

    @Test(arguments: [false, true])
    func momentumSGD(nesterov: Bool) {
        let lr = 0.05, mu = 0.9, wd = 0.001
        var sgd = SGD(layout: Self.layout, learningRate: lr, momentum: mu, nesterov: nesterov, weightDecay: wd)
        let got = run(&sgd, steps: 3)
        var p = Self.start
        var v = [Double](repeating: 0, count: 4)
        for (k, g) in Self.gradients.enumerated() {
            for i in 0..<4 {
                let d = g[i] + wd * p[i]
                v[i] = mu * v[i] + d
                p[i] -= lr * (nesterov ? d + mu * v[i] : v[i])
            }
            expectClose(got[k], p, "step \(k + 1)")
        }
        #expect(sgd.state.step == 3)
        expectClose(sgd.state.buffers["momentum_buffer"]!.values.map(Double.init), v)
    }

    @Test func adamWithWeightDecay() {
        let lr = 0.01, b1 = 0.9, b2 = 0.99, eps = 1e-8, wd = 0.02
        var adam = Adam(layout: Self.layout, learningRate: lr, beta1: b1, beta2: b2, epsilon: eps, weightDecay: wd)
        let got = run(&adam, steps: 3)
        var p = Self.start
        var m = [Double](repeating: 0, count: 4), v = [Double](repeating: 0, count: 4)
        for (k, g) in Self.gradients.enumerated() {
            let t = Double(k + 1)
            for i in 0..<4 {
                let gi = g[i] + wd * p[i]
                m[i] = b1 * m[i] + (1 - b1) * gi
                v[i] = b2 * v[i] + (1 - b2) * gi * gi
                let mHat = m[i] / (1 - pow(b1, t)), vHat = v[i] / (1 - pow(b2, t))
                p[i] -= lr * mHat / (vHat.squareRoot() + eps)
            }
            expectClose(got[k], p, "step \(k + 1)")
        }
        expectClose(adam.state.buffers["exp_avg"]!.values.map(Double.init), m)
        expectClose(adam.state.buffers["exp_avg_sq"]!.values.map(Double.init), v)
    }

    @Test func resetForgetsMomentum() {
        var used = SGD(layout: Self.layout, learningRate: 0.1, momentum: 0.9)
        _ = run(&used, steps: 3)
        used.reset()
        var fresh = SGD(layout: Self.layout, learningRate: 0.1, momentum: 0.9)
        #expect(run(&used, steps: 2) == run(&fresh, steps: 2))
        #expect(used.state == fresh.state)

        var adam = Adam(layout: Self.layout, learningRate: 0.1)
        _ = run(&adam, steps: 3)
        adam.reset()
        var freshAdam = Adam(layout: Self.layout, learningRate: 0.1)
        #expect(run(&adam, steps: 3) == run(&freshAdam, steps: 3))
    }

    @Test(arguments: [OptimizerSettings.sgd(learningRate: 0.1, momentum: 0.8), .adam(learningRate: 0.01)])
    func restoredStateContinuesExactly(settings: OptimizerSettings) throws {
        var original = settings.makeOptimizer(layout: Self.layout)
        var model = ModelState(layout: Self.layout, values: Self.start.map(Float.init))
        for g in Self.gradients.prefix(2) { original.step(model: &model, gradient: ModelState(layout: Self.layout, values: g.map(Float.init))) }
        var copy = settings.makeOptimizer(layout: Self.layout)
        try copy.restore(original.state)
        #expect(copy.state == original.state)
        var a = model, b = model
        let last = ModelState(layout: Self.layout, values: Self.gradients[2].map(Float.init))
        original.step(model: &a, gradient: last)
        copy.step(model: &b, gradient: last)
        #expect(a == b)
    }

    @Test func restoreRejectsForeignState() throws {
        var adam = Adam(layout: Self.layout)
        let sgdState = SGD(layout: Self.layout, learningRate: 0.1, momentum: 0.9).state
        #expect(throws: OptimizerStateError.self) { try adam.restore(sgdState) }
        let other = try ModelLayout([TensorSpec(name: "w", shape: [4])])
        #expect(throws: OptimizerStateError.self) { try adam.restore(Adam(layout: other).state) }
    }

    @Test func settingsAreValidated() {
        #expect(throws: OptimizerSettingsError.self) { try OptimizerSettings.sgd(learningRate: 0).validate() }
        #expect(throws: OptimizerSettingsError.self) { try OptimizerSettings.sgd(learningRate: 0.1, momentum: 1).validate() }
        #expect(throws: OptimizerSettingsError.self) { try OptimizerSettings.sgd(learningRate: 0.1, nesterov: true).validate() }
        #expect(throws: OptimizerSettingsError.self) { try OptimizerSettings.adam(learningRate: 0.1, beta2: 1).validate() }
        #expect(throws: Never.self) { try OptimizerSettings.adam(learningRate: 0.001).validate() }
        #expect(OptimizerSettings.sgd(learningRate: 0.1).makeOptimizer(layout: Self.layout) is SGD)
        #expect(OptimizerSettings.adam(learningRate: 0.1).makeOptimizer(layout: Self.layout) is Adam)
    }
}
