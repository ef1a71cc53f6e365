import FLCore

/// The nonlinearity between hidden layers.
public enum Activation: String, Sendable, Hashable, CaseIterable {
    case relu
    case tanh
}

/// The shape of a classifier: a stack of dense layers ending in a softmax over the classes.
///
/// Parameters are named as PyTorch names an `nn.Sequential` of `Linear` layers would be after renaming:
/// `dense_0.weight` with shape `[out, in]`, `dense_0.bias` with shape `[out]`, then `dense_1.…`, in that
/// order in the flat buffer. A model trained here loads in PyTorch with a key rename, and the reverse.
public enum NetworkArchitecture: Sendable, Hashable, CustomStringConvertible {
    /// Multinomial logistic regression: one dense layer and a softmax. Two classes still give two outputs.
    case softmaxRegression(inputs: Int, classes: Int)
    /// A multilayer perceptron with the given hidden widths.
    case mlp(inputs: Int, hidden: [Int], classes: Int, activation: Activation = .relu)

    /// Number of input features.
    public var inputCount: Int {
        switch self {
        case .softmaxRegression(let inputs, _), .mlp(let inputs, _, _, _): inputs
        }
    }

    /// Number of classes (outputs).
    public var classCount: Int {
        switch self {
        case .softmaxRegression(_, let classes), .mlp(_, _, let classes, _): classes
        }
    }

    /// Layer widths from the input to the logits: `[inputs] + hidden + [classes]`.
    public var widths: [Int] {
        switch self {
        case .softmaxRegression(let inputs, let classes): [inputs, classes]
        case .mlp(let inputs, let hidden, let classes, _): [inputs] + hidden + [classes]
        }
    }

    /// The hidden-layer nonlinearity (unused by softmax regression).
    public var activation: Activation {
        switch self {
        case .softmaxRegression: .relu
        case .mlp(_, _, _, let activation): activation
        }
    }

    /// Number of dense layers.
    public var layerCount: Int { widths.count - 1 }

    /// Checks that every width is positive and there are at least two classes.
    public func validate() throws(NetworkArchitectureError) {
        let w = widths
        if let bad = w.firstIndex(where: { $0 <= 0 }) {
            throw NetworkArchitectureError(architecture: self, reason: "layer width #\(bad) is \(w[bad]); widths must be positive")
        }
        if classCount < 2 { throw NetworkArchitectureError(architecture: self, reason: "a classifier needs at least 2 classes, got \(classCount)") }
    }

    /// The tensors of the model, in buffer order.
    public var tensorSpecs: [TensorSpec] {
        let w = widths
        var specs: [TensorSpec] = []
        for l in 0..<(w.count - 1) {
            specs.append(TensorSpec(name: "dense_\(l).weight", shape: [w[l + 1], w[l]]))
            specs.append(TensorSpec(name: "dense_\(l).bias", shape: [w[l + 1]]))
        }
        return specs
    }

    /// The flat-buffer layout of the model.
    /// - Precondition: the architecture is valid (see `validate()`).
    public var layout: ModelLayout {
        do { return try ModelLayout(tensorSpecs) } catch { preconditionFailure("\(self): \(error)") }
    }

    /// A freshly initialised model: He-uniform weights before a ReLU, Glorot-uniform before tanh and
    /// before the softmax, zero biases. The same seed always gives the same values.
    public func initialModel(seed: UInt64) -> ModelState {
        var model = ModelState(zeros: layout)
        var rng = SeededGenerator(seed: seed)
        let w = widths
        model.values.withUnsafeMutableBufferPointer { values in
            var offset = 0
            for l in 0..<(w.count - 1) {
                let fanIn = w[l], fanOut = w[l + 1]
                let feedsRelu = l < w.count - 2 && activation == .relu
                let limit = feedsRelu ? (6.0 / Double(fanIn)).squareRoot() : (6.0 / Double(fanIn + fanOut)).squareRoot()
                for i in 0..<(fanIn * fanOut) { values[offset + i] = Float((2 * rng.uniform() - 1) * limit) }
                offset += fanIn * fanOut + fanOut
            }
        }
        return model
    }

    public var description: String {
        switch self {
        case .softmaxRegression(let inputs, let classes): "softmax regression \(inputs) → \(classes)"
        case .mlp(_, _, _, let activation): "MLP \(widths.map(String.init).joined(separator: " → ")) (\(activation.rawValue))"
        }
    }
}

/// An architecture that cannot be built.
public struct NetworkArchitectureError: Error, Sendable, CustomStringConvertible {
    public var architecture: NetworkArchitecture
    public var reason: String
    public var description: String { "invalid network \(architecture): \(reason)" }
}
