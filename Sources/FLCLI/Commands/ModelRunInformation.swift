import FLCore
import FLTraining

/// What `fx model inspect` says about running a model file: its description (network, label column,
/// standardization) in words, the preprocessing its `preprocess.*` tensors carry, and what would stop
/// `fx model predict`.
struct ModelRunInformation {
    /// The file's description, when it has one that reads.
    var description: ModelDescription?
    /// Why the file's `swiftfl.*` metadata does not read, when it does not.
    var descriptionProblem: String?
    /// `preprocess.mean` and `preprocess.scale`, when the file has both and they can be applied.
    var preprocessing: Standardizer?
    /// Why the file's preprocess tensors cannot be applied, when they cannot.
    var preprocessingProblem: String?

    /// Reads the description from the header and the preprocess tensors (small: one value per feature) from the file.
    init(_ header: SafetensorsHeader) throws {
        if ModelDescription.isPresent(in: header.metadata) {
            do { description = try ModelDescription(metadata: header.metadata) } catch { descriptionProblem = "\(error)" }
        }
        func tensor(_ name: String) throws -> (shape: [Int], values: [Float])? {
            guard let entry = header.entry(named: name), let values = try header.values(of: name) else { return nil }
            return (entry.spec.shape, values)
        }
        let mean = try tensor(Standardizer.meanTensorName), scale = try tensor(Standardizer.scaleTensorName)
        // Without a description, the tensors are checked against their own length.
        let features = description?.architecture.inputCount ?? mean?.values.count ?? scale?.values.count ?? 0
        do {
            preprocessing = try Standardizer.fromPreprocessTensors(mean: mean, scale: scale, featureCount: features)
        } catch {
            preprocessingProblem = "\(error)"
        }
    }

    /// What predict would warn about.
    var warnings: [String] {
        guard let description, preprocessing == nil, preprocessingProblem == nil else { return [] }
        switch description.standardization {
        case .none:
            return []
        case .local:
            return ["the sites standardized their inputs each with its own statistics, which no one outside them can reproduce exactly, and the file "
                    + "carries no \(Standardizer.meanTensorName)/\(Standardizer.scaleTensorName): predict uses the inputs unscaled "
                    + "(or, with --standardize-from-data, statistics of the rows it is given)"]
        case .federated:
            return ["the model was trained on inputs standardized with federated statistics, but the file carries no "
                    + "\(Standardizer.meanTensorName)/\(Standardizer.scaleTensorName) (an initial model?): predict uses the inputs unscaled"]
        }
    }

    /// The text form, one line each.
    func lines(path: String) -> [String] {
        var lines: [String] = []
        if let description {
            lines.append("network: \(description.architecture)")
            lines.append("label column: \(description.labelColumn) (the features are every other column, in file order)")
            let standardization = switch description.standardization {
            case .none: "none (inputs as they are)"
            case .local: "local (each site with its own statistics)"
            case .federated: "federated (one standardizer from every site's statistics)"
            }
            lines.append("standardization: \(standardization)")
        } else if let descriptionProblem {
            lines.append("\(descriptionProblem); `fx model predict` refuses this file")
        } else {
            lines.append("no model description (\(ModelDescription.keyPrefix)* metadata): `fx model predict` cannot run it; run it with the code that trained it")
        }
        if let preprocessing {
            lines.append("preprocessing: x' = (x − \(Standardizer.meanTensorName)) / \(Standardizer.scaleTensorName), \(preprocessing.mean.count) features")
            lines.append("  mean   \(Self.preview(preprocessing.mean))")
            lines.append("  scale  \(Self.preview(preprocessing.scale))")
        } else if let preprocessingProblem {
            lines.append("preprocessing: unusable: \(preprocessingProblem)")
        } else if description != nil {
            lines.append("preprocessing: none in the file")
        }
        for warning in warnings { lines.append("warning: \(warning)") }
        if description != nil && preprocessingProblem == nil {
            lines.append("run it: fx model predict --model \(path) --data CSV")
        }
        return lines
    }

    /// The `--json` entries: `description`, `preprocessing` (null when absent), the problems and warnings.
    func add(to root: inout PlanMapping) {
        if let description {
            var d = PlanMapping()
            let metadata = description.metadata
            d["model"] = PlanNode(.string(metadata[ModelDescription.Key.model]!))
            d["input_features"] = PlanNode(.int(description.architecture.inputCount))
            d["classes"] = PlanNode(.int(description.architecture.classCount))
            d["hidden_layers"] = PlanNode(.sequence(Array(description.architecture.widths.dropFirst().dropLast()).map { PlanNode(.int($0)) }))
            if case let .mlp(_, _, _, activation) = description.architecture { d["activation"] = PlanNode(.string(activation.rawValue)) }
            d["label_column"] = PlanNode(.string(description.labelColumn))
            d["standardization"] = PlanNode(.string(description.standardization.rawValue))
            d["summary"] = PlanNode(.string("\(description.architecture)"))
            root["description"] = PlanNode(.mapping(d))
        } else {
            root["description"] = PlanNode(.null)
        }
        if let descriptionProblem { root["description_error"] = PlanNode(.string(descriptionProblem)) }
        if let preprocessing {
            var p = PlanMapping()
            p["mean"] = PlanNode(.sequence(preprocessing.mean.map(Self.number)))
            p["scale"] = PlanNode(.sequence(preprocessing.scale.map(Self.number)))
            root["preprocessing"] = PlanNode(.mapping(p))
        } else {
            root["preprocessing"] = PlanNode(.null)
        }
        if let preprocessingProblem { root["preprocessing_error"] = PlanNode(.string(preprocessingProblem)) }
        root["warnings"] = PlanNode(.sequence(warnings.map { PlanNode(.string($0)) }))
    }

    /// A float32 as the shortest decimal that reads back as it (0.1, not 0.10000000149011612).
    static func number(_ value: Float) -> PlanNode { PlanNode(.float(Double("\(value)") ?? Double(value))) }

    /// The first few values, then how many there are.
    static func preview(_ values: [Float]) -> String {
        let shown = values.prefix(6).map { "\($0)" }.joined(separator: ", ")
        return values.count > 6 ? "\(shown), … (\(values.count) values)" : shown
    }
}
