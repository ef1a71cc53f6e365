#if canImport(Glibc)
import Glibc
#endif
import FLCore

/// A model file that can be run on new data: its description (network, label column, how inputs were
/// standardized), its dense layers, and the preprocessing its `preprocess.*` tensors carry.
///
/// A model runs as the builtin runner trained it: inputs standardised as `(x − mean) / scale` (when
/// the file carries the statistics), the dense layers with their activation, then a softmax.
public struct TrainedModel: Sendable {
    /// The file it was read from (named in errors and warnings).
    public let path: String
    public let modelDescription: ModelDescription
    /// The network's parameters, in `modelDescription.architecture.layout`.
    public let parameters: ModelState
    /// The file's preprocess tensors, or a standardizer supplied with `applying(_:)`.
    public let standardizer: Standardizer?
    /// Whether `standardizer` came from the file's own `preprocess.*` tensors.
    public let carriesPreprocessing: Bool
    /// Every metadata entry of the file.
    public let metadata: [String: String]

    /// Reads and checks the model file at `path`.
    /// - Throws: `SafetensorsError` when the file is not a readable F32 safetensors file, otherwise
    ///   `TrainedModelError` (no description, a bad one, tensors that do not fit it).
    public static func load(_ path: String) throws -> TrainedModel {
        let (model, metadata) = try Safetensors.read(path)
        return try TrainedModel(path: path, model: model, metadata: metadata)
    }

    /// A model from a file's tensors and metadata held in memory; `path` names it in errors.
    /// - Throws: `TrainedModelError`.
    public init(path: String, model: ModelState, metadata: [String: String]) throws(TrainedModelError) {
        func fail(_ problem: TrainedModelError.Problem) -> TrainedModelError { TrainedModelError(path: path, problem: problem) }
        guard ModelDescription.isPresent(in: metadata) else { throw fail(.noDescription) }
        let description: ModelDescription
        do { description = try ModelDescription(metadata: metadata) } catch { throw fail(.description(error)) }
        let architecture = description.architecture
        let layout = architecture.layout
        // A SCAFFOLD federation's control tensors travel in its model files; they are not the network's.
        for spec in model.layout.tensors where layout.index(of: spec.name) == nil && !Standardizer.isPreprocessTensor(spec.name)
                                                && !ScaffoldControl.isControlTensor(spec.name) {
            throw fail(.tensors("unexpected tensor '\(spec.name)': \(architecture) has \(layout.tensors.map(\.name).joined(separator: ", "))"
                                + " and may carry \(Standardizer.meanTensorName) and \(Standardizer.scaleTensorName)"))
        }
        var values = [Float](repeating: 0, count: layout.count)
        for (i, spec) in layout.tensors.enumerated() {
            guard let j = model.layout.index(of: spec.name) else {
                throw fail(.tensors("tensor '\(spec.name)' is missing (\(architecture) has \(layout.tensors.map(\.name).joined(separator: ", ")))"))
            }
            let found = model.layout.tensors[j].shape
            guard found == spec.shape else {
                throw fail(.tensors("tensor '\(spec.name)' has shape \(TensorSpec.format(found)), but \(architecture) needs \(TensorSpec.format(spec.shape))"))
            }
            values.replaceSubrange(layout.range(at: i), with: model.values[model.layout.range(at: j)])
        }
        let parameters = ModelState(layout: layout, values: values)
        if let bad = parameters.firstNonFinite {
            throw fail(.tensors("tensor '\(bad.tensor)' holds \(bad.value) at element \(bad.element); a model must be finite"))
        }
        do {
            standardizer = try Standardizer.fromPreprocessTensors(of: model, featureCount: architecture.inputCount)
        } catch {
            throw fail(.preprocessing(error))
        }
        carriesPreprocessing = standardizer != nil
        self.path = path
        self.modelDescription = description
        self.parameters = parameters
        self.metadata = metadata
    }

    private init(_ model: TrainedModel, standardizer: Standardizer) {
        path = model.path
        modelDescription = model.modelDescription
        parameters = model.parameters
        metadata = model.metadata
        self.standardizer = standardizer
        carriesPreprocessing = false
    }

    /// The network the description names.
    public var architecture: NetworkArchitecture { modelDescription.architecture }

    /// This model with `standardizer` applied to its inputs instead of the file's (e.g. one fitted on
    /// the rows at hand, for a model whose sites standardised locally).
    /// - Precondition: one mean per input feature.
    public func applying(_ standardizer: Standardizer) -> TrainedModel {
        precondition(standardizer.mean.count == architecture.inputCount, "standardizer for \(standardizer.mean.count) features, model takes \(architecture.inputCount)")
        return TrainedModel(self, standardizer: standardizer)
    }

    /// What the user should know before trusting this model's outputs: inputs it cannot scale the way
    /// training did.
    public var warnings: [String] {
        guard standardizer == nil else { return [] }
        switch modelDescription.standardization {
        case .none:
            return []
        case .local:
            return ["\(path): the sites standardized their inputs each with its own statistics (\(ModelDescription.Key.standardization): local), "
                    + "which no one outside them can reproduce exactly, and the file carries no \(Standardizer.meanTensorName)/\(Standardizer.scaleTensorName): "
                    + "the inputs are used unscaled, so predictions may be poor (a model trained with federated standardization carries the statistics)"]
        case .federated:
            return ["\(path): the model was trained on inputs standardized with federated statistics (\(ModelDescription.Key.standardization): federated), "
                    + "but the file carries no \(Standardizer.meanTensorName)/\(Standardizer.scaleTensorName) (an initial model?): the inputs are used unscaled"]
        }
    }

    /// The logits of rows of `architecture.inputCount` features held row after row (`rows × classes`).
    /// - Precondition: `features.count` is a multiple of the input count.
    public func logits(for features: [Float]) -> [Float] {
        let d = architecture.inputCount
        precondition(features.count % d == 0, "\(features.count) values are not whole rows of \(d) features")
        var inputs = features
        standardizer?.apply(toRows: &inputs)
        let network = DenseNetwork(architecture: architecture, batchCapacity: max(1, min(features.count / d, 1024)))
        return parameters.values.withUnsafeBufferPointer { p in
            inputs.withUnsafeBufferPointer { x in network.logits(parameters: p, inputs: x) }
        }
    }

    /// Each row's class probabilities (`rows × classes`, a softmax of the logits).
    /// - Precondition: `features.count` is a multiple of the input count.
    public func probabilities(for features: [Float]) -> [Float] {
        var z = logits(for: features)
        TrainedModel.softmaxRows(&z, classes: architecture.classCount)
        return z
    }

    /// What the model says about some rows: each one's class and class probabilities.
    public struct Predictions: Sendable, Equatable {
        /// Per row, the class with the highest logit (ties go to the lowest index, as in evaluation).
        public var classes: [Int]
        /// `rows × classCount` probabilities, row after row.
        public var probabilities: [Float]
        public var classCount: Int
    }

    /// Each row's predicted class and class probabilities.
    /// - Precondition: `features.count` is a multiple of the input count.
    public func predict(_ features: [Float]) -> Predictions {
        let k = architecture.classCount
        var z = logits(for: features)
        let rows = z.count / k
        var classes = [Int](repeating: 0, count: rows)
        z.withUnsafeBufferPointer { z in
            for r in 0..<rows {
                var best = 0
                for j in 1..<k where z[r * k + j] > z[r * k + best] { best = j }
                classes[r] = best
            }
        }
        TrainedModel.softmaxRows(&z, classes: k)
        return Predictions(classes: classes, probabilities: z, classCount: k)
    }

    /// Accuracy, loss, per-class figures and the confusion matrix on labelled rows.
    /// - Precondition: `data` has the model's input count, and no more classes than it.
    public func evaluate(_ data: Dataset) -> ClassificationReport {
        precondition(data.featureCount == architecture.inputCount && data.classCount <= architecture.classCount,
                     "dataset of \(data.featureCount) features and \(data.classCount) classes for \(architecture)")
        let z = logits(for: data.features)
        return z.withUnsafeBufferPointer { z in
            data.labels.withUnsafeBufferPointer { y in ClassificationReport(logits: z, labels: y, classCount: architecture.classCount) }
        }
    }

    /// Replaces each row of `classes` logits by its softmax, with the row's largest logit taken out
    /// first so no exponential overflows.
    static func softmaxRows(_ values: inout [Float], classes: Int) {
        values.withUnsafeMutableBufferPointer { v in
            var start = 0
            while start < v.count {
                let row = UnsafeMutableBufferPointer(rebasing: v[start..<(start + classes)])
                let top = row.max()!
                var sum: Float = 0
                for j in 0..<classes {
                    row[j] = expf(row[j] - top)
                    sum += row[j]
                }
                for j in 0..<classes { row[j] /= sum }
                start += classes
            }
        }
    }
}

/// A model file predict and evaluate cannot run: which file, and why.
public struct TrainedModelError: Error, Sendable, CustomStringConvertible {
    public enum Problem: Sendable {
        /// No `swiftfl.` metadata: not written for the builtin runner.
        case noDescription
        case description(ModelDescriptionError)
        case tensors(String)
        case preprocessing(PreprocessTensorError)
    }

    /// The model file.
    public var path: String
    public var problem: Problem

    public init(path: String, problem: Problem) {
        self.path = path
        self.problem = problem
    }

    public var description: String {
        switch problem {
        case .noDescription:
            "\(path): no model description (no \(ModelDescription.keyPrefix)* metadata), so its network, label column and input scaling are unknown. "
                + "SwiftFL describes the models its builtin runner trains; this one came from elsewhere (an external runner's own code, or a converted file). "
                + "Run it with the code that trained it (see the numpy example in the README), or `fx model inspect` it"
        case let .description(error): "\(path): \(error)"
        case let .tensors(reason): "\(path): \(reason)"
        case let .preprocessing(error): "\(path): \(error)"
        }
    }
}
