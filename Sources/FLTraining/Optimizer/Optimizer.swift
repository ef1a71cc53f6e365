import FLCore

/// Updates a model's flat parameter buffer from a gradient with the same layout.
///
/// An optimizer's state (momentum, moment estimates, step count) is itself a set of flat buffers with the
/// model's layout, so a federated site can keep it between rounds, drop it (`reset()`), or save it next to
/// the model (`state` / `restore(_:)`).
public protocol Optimizer: Sendable {
    /// The layout of the parameters, gradients and state buffers.
    var layout: ModelLayout { get }
    /// Applies one update to `parameters` given `gradient`.
    /// - Precondition: both buffers have `layout.count` elements.
    mutating func step(parameters: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>)
    /// Forgets all state, as if freshly created.
    mutating func reset()
    /// A copy of the state: named buffers with the model's layout, and the number of steps taken.
    var state: OptimizerState { get }
    /// Replaces the state with `state`, previously taken from an optimizer of the same kind and layout.
    /// - Throws: `OptimizerStateError` when buffers are missing or have another layout.
    mutating func restore(_ state: OptimizerState) throws
}

extension Optimizer {
    /// Applies one update to `model` given `gradient`.
    public mutating func step(model: inout ModelState, gradient: ModelState) {
        precondition(model.layout == layout && gradient.layout == layout, "optimizer layout does not match the model or gradient")
        model.values.withUnsafeMutableBufferPointer { p in
            gradient.values.withUnsafeBufferPointer { g in step(parameters: p, gradient: g) }
        }
    }
}

/// The state of an optimizer, in buffers with the model's layout (named as PyTorch names them:
/// `momentum_buffer`, `exp_avg`, `exp_avg_sq`).
public struct OptimizerState: Sendable, Equatable {
    /// Updates taken so far.
    public var step: Int
    public var buffers: [String: ModelState]

    public init(step: Int, buffers: [String: ModelState]) {
        self.step = step
        self.buffers = buffers
    }
}

/// State that does not fit the optimizer it is restored into.
public struct OptimizerStateError: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public var description: String { "cannot restore optimizer state: \(reason)" }
}

/// Which optimizer to use and its hyperparameters, as a plan names them.
public enum OptimizerSettings: Sendable, Hashable, CustomStringConvertible {
    /// Stochastic gradient descent, with PyTorch's `torch.optim.SGD` semantics (no dampening).
    case sgd(learningRate: Double, momentum: Double = 0, nesterov: Bool = false, weightDecay: Double = 0)
    /// Adam, with PyTorch's `torch.optim.Adam` semantics (weight decay added to the gradient).
    case adam(learningRate: Double, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0)

    /// The step size either optimizer was given.
    public var learningRate: Double {
        switch self {
        case let .sgd(lr, _, _, _): lr
        case let .adam(lr, _, _, _, _): lr
        }
    }

    /// A fresh optimizer for parameters with `layout`.
    public func makeOptimizer(layout: ModelLayout) -> any Optimizer {
        switch self {
        case .sgd(let lr, let momentum, let nesterov, let wd):
            SGD(layout: layout, learningRate: lr, momentum: momentum, nesterov: nesterov, weightDecay: wd)
        case .adam(let lr, let b1, let b2, let eps, let wd):
            Adam(layout: layout, learningRate: lr, beta1: b1, beta2: b2, epsilon: eps, weightDecay: wd)
        }
    }

    /// Checks that the hyperparameters are in range.
    public func validate() throws(OptimizerSettingsError) {
        func check(_ ok: Bool, _ reason: String) throws(OptimizerSettingsError) {
            if !ok { throw OptimizerSettingsError(settings: self, reason: reason) }
        }
        switch self {
        case .sgd(let lr, let momentum, let nesterov, let wd):
            try check(lr > 0 && lr.isFinite, "learning rate must be positive")
            try check(momentum >= 0 && momentum < 1, "momentum must be in [0, 1)")
            try check(!nesterov || momentum > 0, "nesterov needs a positive momentum")
            try check(wd >= 0 && wd.isFinite, "weight decay must be non-negative")
        case .adam(let lr, let b1, let b2, let eps, let wd):
            try check(lr > 0 && lr.isFinite, "learning rate must be positive")
            try check(b1 >= 0 && b1 < 1, "beta1 must be in [0, 1)")
            try check(b2 >= 0 && b2 < 1, "beta2 must be in [0, 1)")
            try check(eps > 0 && eps.isFinite, "epsilon must be positive")
            try check(wd >= 0 && wd.isFinite, "weight decay must be non-negative")
        }
    }

    public var description: String {
        switch self {
        case .sgd(let lr, let momentum, let nesterov, let wd):
            "sgd(lr: \(lr), momentum: \(momentum), nesterov: \(nesterov), weight_decay: \(wd))"
        case .adam(let lr, let b1, let b2, let eps, let wd):
            "adam(lr: \(lr), betas: (\(b1), \(b2)), eps: \(eps), weight_decay: \(wd))"
        }
    }
}

/// Optimizer hyperparameters out of range.
public struct OptimizerSettingsError: Error, Sendable, CustomStringConvertible {
    public var settings: OptimizerSettings
    public var reason: String
    public var description: String { "invalid optimizer \(settings): \(reason)" }
}

extension OptimizerState {
    /// The buffer called `name`, checked against `layout`.
    func buffer(_ name: String, layout: ModelLayout) throws -> ModelState {
        guard let b = buffers[name] else {
            throw OptimizerStateError(reason: "no buffer named '\(name)' (have: \(buffers.keys.sorted().joined(separator: ", ")))")
        }
        if let difference = layout.difference(from: b.layout) { throw OptimizerStateError(reason: "buffer '\(name)': \(difference)") }
        return b
    }
}
