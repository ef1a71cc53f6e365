import FLCore

/// A standardizer as a model file carries it: two F32 tensors of one value per input feature,
/// `preprocess.mean` and `preprocess.scale`, applied as `x' = (x − mean) / scale` before the first
/// dense layer. Anyone with the file can then reproduce the model's inputs (numpy: `(x - mean) / scale`).
extension Standardizer {
    /// The tensor holding each feature's mean.
    public static let meanTensorName = "preprocess.mean"
    /// The tensor holding each feature's divisor.
    public static let scaleTensorName = "preprocess.scale"

    /// True for the names of the preprocess tensors (anything under `preprocess.`), which are not
    /// parameters of the network.
    public static func isPreprocessTensor(_ name: String) -> Bool { name.hasPrefix("preprocess.") }

    /// The standardizer carried by a file's preprocess tensors, or nil when it has neither.
    ///
    /// - Parameters:
    ///   - mean: `preprocess.mean`'s shape and values, if the file has it.
    ///   - scale: `preprocess.scale`'s shape and values, if the file has it.
    ///   - featureCount: the model's input feature count; each tensor must have shape `[featureCount]`.
    /// - Throws: `PreprocessTensorError` when only one is there, a shape is wrong, a mean is not
    ///   finite or a scale is not a positive finite number (dividing by it would not give numbers).
    public static func fromPreprocessTensors(mean: (shape: [Int], values: [Float])?, scale: (shape: [Int], values: [Float])?,
                                             featureCount: Int) throws(PreprocessTensorError) -> Standardizer? {
        switch (mean, scale) {
        case (nil, nil):
            return nil
        case (nil, _):
            throw PreprocessTensorError(tensor: meanTensorName, reason: "is missing while \(scaleTensorName) is there; a file carries both or neither")
        case (_, nil):
            throw PreprocessTensorError(tensor: scaleTensorName, reason: "is missing while \(meanTensorName) is there; a file carries both or neither")
        case let (mean?, scale?):
            for (name, tensor) in [(meanTensorName, mean), (scaleTensorName, scale)] where tensor.shape != [featureCount] {
                throw PreprocessTensorError(tensor: name, reason: "has shape \(TensorSpec.format(tensor.shape)), expected [\(featureCount)] (one value per input feature)")
            }
            if let i = mean.values.firstIndex(where: { !$0.isFinite }) {
                throw PreprocessTensorError(tensor: meanTensorName, reason: "holds \(mean.values[i]) at element \(i); means must be finite")
            }
            if let i = scale.values.firstIndex(where: { !($0 > 0 && $0.isFinite) }) {
                throw PreprocessTensorError(tensor: scaleTensorName, reason: "holds \(scale.values[i]) at element \(i); scales must be positive and finite")
            }
            return Standardizer(mean: mean.values, scale: scale.values)
        }
    }

    /// The standardizer carried by `model`'s preprocess tensors, or nil when it has neither (see
    /// `fromPreprocessTensors(mean:scale:featureCount:)`).
    /// - Throws: `PreprocessTensorError`.
    public static func fromPreprocessTensors(of model: ModelState, featureCount: Int) throws(PreprocessTensorError) -> Standardizer? {
        func tensor(_ name: String) -> (shape: [Int], values: [Float])? {
            guard let i = model.layout.index(of: name) else { return nil }
            return (model.layout.tensors[i].shape, Array(model.values[model.layout.range(at: i)]))
        }
        return try fromPreprocessTensors(mean: tensor(meanTensorName), scale: tensor(scaleTensorName), featureCount: featureCount)
    }

    /// `model` with this standardizer appended as its preprocess tensors (replacing any it had).
    public func appendingPreprocessTensors(to model: ModelState) -> ModelState {
        var specs: [TensorSpec] = [], values: [Float] = []
        for (i, spec) in model.layout.tensors.enumerated() where !Standardizer.isPreprocessTensor(spec.name) {
            specs.append(spec)
            values.append(contentsOf: model.values[model.layout.range(at: i)])
        }
        specs += [TensorSpec(name: Standardizer.meanTensorName, shape: [mean.count]), TensorSpec(name: Standardizer.scaleTensorName, shape: [scale.count])]
        values += mean + scale
        do {
            return ModelState(layout: try ModelLayout(specs), values: values)
        } catch {
            preconditionFailure("appending preprocess tensors to \(model.layout): \(error)")
        }
    }

    /// The two preprocess tensors for `features` input features, in the order a model file carries them.
    public static func preprocessTensors(features: Int) -> [TensorSpec] {
        [TensorSpec(name: meanTensorName, shape: [features]), TensorSpec(name: scaleTensorName, shape: [features])]
    }

    /// `layout` followed by the preprocess tensors for `features` input features: the model of a
    /// federation whose sites standardize with the federation's statistics carries them after its
    /// own tensors, so every file of it (initial, checkpoints, best, last) holds its standardizer.
    /// - Throws: `ModelLayoutError` when `layout` already names them.
    public static func layout(_ layout: ModelLayout, preprocessingFeatures features: Int) throws -> ModelLayout {
        try ModelLayout(layout.tensors + preprocessTensors(features: features))
    }

    /// The standardizer that leaves features as they are (mean 0, scale 1): a model's preprocess
    /// tensors before the federation's statistics are in.
    public static func identity(features: Int) -> Standardizer {
        Standardizer(mean: [Float](repeating: 0, count: features), scale: [Float](repeating: 1, count: features))
    }

    /// Writes this standardizer into `model`'s preprocess tensors, which it must have.
    /// - Precondition: `model` has both tensors, of `mean.count` values each.
    public func write(into model: inout ModelState) {
        model.setTensor(Standardizer.meanTensorName, mean)
        model.setTensor(Standardizer.scaleTensorName, scale)
    }

    /// Standardises rows of `mean.count` features held row after row, in place.
    /// - Precondition: `features.count` is a multiple of `mean.count`.
    public func apply(toRows features: inout [Float]) {
        let d = mean.count
        precondition(d > 0 && features.count % d == 0, "Standardizer fitted on \(d) features, given \(features.count) values")
        let n = features.count / d
        mean.withUnsafeBufferPointer { m in
            scale.withUnsafeBufferPointer { s in
                features.withUnsafeMutableBufferPointer { x in
                    for r in 0..<n {
                        let row = x.baseAddress! + r * d
                        for j in 0..<d { row[j] = (row[j] - m[j]) / s[j] }
                    }
                }
            }
        }
    }
}

/// Preprocess tensors that cannot be applied: which one, and why.
public struct PreprocessTensorError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `preprocess.mean` or `preprocess.scale`.
    public var tensor: String
    /// What is wrong with it, as the end of a sentence naming it.
    public var reason: String

    public init(tensor: String, reason: String) {
        self.tensor = tensor
        self.reason = reason
    }

    public var description: String { "tensor '\(tensor)' \(reason)" }
}
