import FLCore

/// What a model file needs to say so that it can be run without its plan: the network, the column
/// holding the label, and how inputs were scaled during training.
///
/// It travels in the safetensors `__metadata__` of every model SwiftFL writes for the builtin runner
/// (the initial model, every checkpoint, and so `best` and `last`), as string entries whose keys start
/// with `swiftfl.`:
///
/// | key | value |
/// |---|---|
/// | `swiftfl.description_version` | `1` |
/// | `swiftfl.model` | `softmax_regression` or `mlp` (the plan's `task_runner.settings.model`) |
/// | `swiftfl.input_features` | number of input features, e.g. `30` |
/// | `swiftfl.classes` | number of classes (outputs), e.g. `2` |
/// | `swiftfl.hidden_layers` | `mlp` only: hidden widths, comma-separated (`64,32`; empty for none) |
/// | `swiftfl.activation` | `mlp` only: `relu` or `tanh` |
/// | `swiftfl.label_column` | the CSV column holding the label, e.g. `label` |
/// | `swiftfl.standardization` | `none`, `local` or `federated` (see `Standardization`) |
///
/// The statistics themselves, when known, are tensors of the file (`Standardizer.meanTensorName`,
/// `Standardizer.scaleTensorName`), not metadata: they are numbers, one per feature.
public struct ModelDescription: Sendable, Hashable, CustomStringConvertible {
    /// How the sites scaled their inputs before training.
    public enum Standardization: String, Sendable, Hashable, CaseIterable {
        /// Features as loaded.
        case none
        /// Each site standardised with its own training rows' statistics: nobody outside the sites
        /// can reproduce those exactly, and they differ from site to site.
        case local
        /// Every site used one standardizer computed from all sites' summed statistics; the model file
        /// carries it as `preprocess.mean` and `preprocess.scale`.
        case federated
    }

    /// The version of this encoding written by `metadata`; files with a newer one are refused.
    public static let version = 1
    /// The prefix of every key this type reads and writes.
    public static let keyPrefix = "swiftfl."

    /// The network: softmax regression or an MLP, with its input, hidden and class counts.
    public var architecture: NetworkArchitecture
    /// The CSV column holding the class index; every other column is an input feature.
    public var labelColumn: String
    /// How the inputs were scaled in training.
    public var standardization: Standardization

    /// A description of a model with this network, label column and standardization.
    public init(architecture: NetworkArchitecture, labelColumn: String, standardization: Standardization) {
        self.architecture = architecture
        self.labelColumn = labelColumn
        self.standardization = standardization
    }

    /// The metadata keys, spelled once.
    public enum Key {
        public static let version = "swiftfl.description_version"
        public static let model = "swiftfl.model"
        public static let inputFeatures = "swiftfl.input_features"
        public static let classes = "swiftfl.classes"
        public static let hiddenLayers = "swiftfl.hidden_layers"
        public static let activation = "swiftfl.activation"
        public static let labelColumn = "swiftfl.label_column"
        public static let standardization = "swiftfl.standardization"
    }

    /// The description as `__metadata__` entries (merge them with any others the file carries).
    public var metadata: [String: String] {
        var m: [String: String] = [
            Key.version: String(Self.version),
            Key.inputFeatures: String(architecture.inputCount),
            Key.classes: String(architecture.classCount),
            Key.labelColumn: labelColumn,
            Key.standardization: standardization.rawValue,
        ]
        switch architecture {
        case .softmaxRegression:
            m[Key.model] = "softmax_regression"
        case let .mlp(_, hidden, _, activation):
            m[Key.model] = "mlp"
            m[Key.hiddenLayers] = hidden.map(String.init).joined(separator: ",")
            m[Key.activation] = activation.rawValue
        }
        return m
    }

    /// True when `metadata` holds any `swiftfl.` key: the file claims a description, so one that does
    /// not read is an error rather than an absence.
    public static func isPresent(in metadata: [String: String]) -> Bool {
        metadata.keys.contains { $0.hasPrefix(keyPrefix) }
    }

    /// Reads a description from a file's metadata; keys without the `swiftfl.` prefix are ignored.
    /// - Throws: `ModelDescriptionError` naming the first key that is missing or does not read.
    public init(metadata: [String: String]) throws(ModelDescriptionError) {
        func value(_ key: String) throws(ModelDescriptionError) -> String {
            guard let v = metadata[key] else { throw ModelDescriptionError(key: key, problem: .missing) }
            return v
        }
        func count(_ key: String, atLeast minimum: Int) throws(ModelDescriptionError) -> Int {
            let text = try value(key)
            guard let n = Int(text), n >= minimum else {
                throw ModelDescriptionError(key: key, problem: .invalid(value: text, expected: "an integer of at least \(minimum)"))
            }
            return n
        }

        let versionText = try value(Key.version)
        guard let version = Int(versionText), version >= 1 else {
            throw ModelDescriptionError(key: Key.version, problem: .invalid(value: versionText, expected: "a positive integer"))
        }
        guard version <= Self.version else {
            throw ModelDescriptionError(key: Key.version, problem: .invalid(
                value: versionText, expected: "version \(Self.version) or older (the file was written by a newer SwiftFL: upgrade fx)"))
        }
        let inputs = try count(Key.inputFeatures, atLeast: 1)
        let classes = try count(Key.classes, atLeast: 2)
        let modelName = try value(Key.model)
        switch modelName {
        case "softmax_regression":
            if let hidden = metadata[Key.hiddenLayers], !hidden.isEmpty {
                throw ModelDescriptionError(key: Key.hiddenLayers, problem: .invalid(value: hidden, expected: "nothing: softmax regression has no hidden layers"))
            }
            architecture = .softmaxRegression(inputs: inputs, classes: classes)
        case "mlp":
            let hiddenText = try value(Key.hiddenLayers)
            var hidden: [Int] = []
            if !hiddenText.isEmpty {
                for part in hiddenText.split(separator: ",", omittingEmptySubsequences: false) {
                    guard let n = Int(part.trimmingSpaces), n >= 1 else {
                        throw ModelDescriptionError(key: Key.hiddenLayers, problem: .invalid(
                            value: hiddenText, expected: "positive layer widths separated by commas, e.g. 64,32"))
                    }
                    hidden.append(n)
                }
            }
            let activationText = try value(Key.activation)
            guard let activation = Activation(rawValue: activationText) else {
                throw ModelDescriptionError(key: Key.activation, problem: .invalid(
                    value: activationText, expected: Activation.allCases.map(\.rawValue).joined(separator: " or ")))
            }
            architecture = .mlp(inputs: inputs, hidden: hidden, classes: classes, activation: activation)
        default:
            throw ModelDescriptionError(key: Key.model, problem: .invalid(value: modelName, expected: "softmax_regression or mlp"))
        }
        // Widths that multiply past what a model may hold would trap when the layout is built.
        do { _ = try ModelLayout(architecture.tensorSpecs) } catch {
            throw ModelDescriptionError(key: Key.model, problem: .invalid(value: "\(architecture)", expected: "a model of at most \(ModelLayout.maximumCount) parameters"))
        }
        labelColumn = try value(Key.labelColumn)
        guard !labelColumn.isEmpty else {
            throw ModelDescriptionError(key: Key.labelColumn, problem: .invalid(value: labelColumn, expected: "a column name"))
        }
        let standardizationText = try value(Key.standardization)
        guard let standardization = Standardization(rawValue: standardizationText) else {
            throw ModelDescriptionError(key: Key.standardization, problem: .invalid(
                value: standardizationText, expected: Standardization.allCases.map(\.rawValue).joined(separator: ", ")))
        }
        self.standardization = standardization
    }

    public var description: String {
        "\(architecture), label column '\(labelColumn)', standardization \(standardization.rawValue)"
    }
}

/// Model metadata that does not describe a runnable model: which `swiftfl.` key, and what is wrong.
public struct ModelDescriptionError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Problem: Sendable, Equatable {
        case missing
        case invalid(value: String, expected: String)
    }

    /// The metadata key, e.g. `swiftfl.classes`.
    public var key: String
    public var problem: Problem

    public init(key: String, problem: Problem) {
        self.key = key
        self.problem = problem
    }

    public var description: String {
        switch problem {
        case .missing: "model description: metadata \(key) is missing"
        case let .invalid(value, expected): "model description: metadata \(key) is '\(value)', expected \(expected)"
        }
    }
}

extension Substring {
    /// Without leading and trailing spaces (a hand-edited `64, 32` still reads).
    fileprivate var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}
