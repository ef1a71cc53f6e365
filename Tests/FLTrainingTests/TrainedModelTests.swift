import FLCore
import FLTraining
import FLTesting
import Foundation
import Testing

@Suite struct TrainedModelTests {
    static let regression = ModelDescription(architecture: .softmaxRegression(inputs: 2, classes: 2), labelColumn: "label", standardization: .federated)

    /// logits = x' (the identity) with x' = (x − [1, 1]) / [2, 1].
    static var identity: ModelState {
        var model = ModelState(zeros: regression.architecture.layout)
        model.setTensor("dense_0.weight", [1, 0, 0, 1])
        return Standardizer(mean: [1, 1], scale: [2, 1]).appendingPreprocessTensors(to: model)
    }

    @Test func appliesThePreprocessTensorsThenTheLayersAndTheSoftmax() throws {
        let model = try TrainedModel(path: "m.safetensors", model: Self.identity, metadata: Self.regression.metadata)
        #expect(model.carriesPreprocessing && model.warnings.isEmpty)
        // [3, 1] → [1, 0]; [1, 3] → [0, 2].
        #expect(model.logits(for: [3, 1, 1, 3]) == [1, 0, 0, 2])
        let p = model.probabilities(for: [3, 1, 1, 3])
        let e = Float(M_E)
        #expect(abs(p[0] - e / (e + 1)) < 1e-6 && abs(p[1] - 1 / (e + 1)) < 1e-6)
        #expect(abs(p[2] - 1 / (1 + e * e)) < 1e-6 && abs(p[3] - e * e / (1 + e * e)) < 1e-6)

        let data = Dataset(features: [3, 1, 1, 3, 5, 0], labels: [0, 0, 1], featureNames: ["a", "b"], classCount: 2)
        let report = model.evaluate(data)
        #expect(report.confusionMatrix == [[1, 1], [1, 0]])  // [5, 0] → [2, −1]: class 0
        #expect(abs(report.meanLoss - (log(1 + exp(-1.0)) + log(1 + exp(2.0)) + log(exp(2.0) + exp(-1.0)) + 1) / 3) < 1e-6)

        // Without the tensors the same rows go in unscaled.
        let bare = try TrainedModel(path: "m", model: ModelState(layout: Self.regression.architecture.layout, values: [1, 0, 0, 1, 0, 0]),
                                    metadata: Self.regression.metadata)
        #expect(!bare.carriesPreprocessing && bare.logits(for: [3, 1]) == [3, 1])
        #expect(bare.applying(Standardizer(mean: [1, 1], scale: [2, 1])).logits(for: [3, 1]) == [1, 0])
    }

    @Test func tensorsMayComeInAnyOrder() throws {
        let m = Self.identity
        let reversed = try ModelLayout(m.layout.tensors.reversed())
        var values: [Float] = []
        for spec in reversed.tensors { values += m.tensor(spec.name)! }
        let model = try TrainedModel(path: "m", model: ModelState(layout: reversed, values: values), metadata: Self.regression.metadata)
        #expect(model.logits(for: [3, 1]) == [1, 0])
        #expect(model.parameters.layout == Self.regression.architecture.layout)
    }

    @Test func warnsWhenTheInputsCannotBeScaledAsInTraining() throws {
        let bare = ModelState(zeros: Self.regression.architecture.layout)
        var local = Self.regression
        local.standardization = .local
        let warnings = try TrainedModel(path: "best.safetensors", model: bare, metadata: local.metadata).warnings
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("best.safetensors: the sites standardized their inputs each with its own statistics") == true, "\(warnings)")
        #expect(warnings.first?.contains("which no one outside them can reproduce exactly") == true)
        #expect(try TrainedModel(path: "f", model: bare, metadata: Self.regression.metadata).warnings.first?.contains("federated statistics") == true)
        var none = Self.regression
        none.standardization = .none
        #expect(try TrainedModel(path: "f", model: bare, metadata: none.metadata).warnings.isEmpty)
        // With the statistics in the file, nothing is left to warn about.
        #expect(try TrainedModel(path: "f", model: Self.identity, metadata: local.metadata).warnings.isEmpty)
    }

    @Test func refusesAModelWithoutADescriptionSayingWhatToDoInstead() {
        let error = #expect(throws: TrainedModelError.self) {
            try TrainedModel(path: "ext.safetensors", model: Self.identity, metadata: ["created_by": "train.py"])
        }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.hasPrefix("ext.safetensors: no model description (no swiftfl.* metadata)"), "\(text)")
        #expect(text.contains("Run it with the code that trained it"), "\(text)")
    }

    @Test(arguments: [
        ("dense_0.bias", nil, "tensor 'dense_0.bias' is missing"),
        ("dense_0.weight", [2, 3], "tensor 'dense_0.weight' has shape [2, 3], but softmax regression 2 → 2 needs [2, 2]"),
        ("dense_1.weight", [2, 2], "unexpected tensor 'dense_1.weight'"),
        ("preprocess.scale", nil, "tensor 'preprocess.scale' is missing while preprocess.mean is there"),
        ("preprocess.mean", [3], "tensor 'preprocess.mean' has shape [3], expected [2] (one value per input feature)"),
    ] as [(String, [Int]?, String)])
    func refusesTensorsThatDoNotFitTheDescription(name: String, shape: [Int]?, message: String) throws {
        var specs = Self.identity.layout.tensors.filter { $0.name != name }
        if let shape { specs.append(TensorSpec(name: name, shape: shape)) }
        let layout = try ModelLayout(specs)
        let error = #expect(throws: TrainedModelError.self) {
            try TrainedModel(path: "m.safetensors", model: ModelState(zeros: layout), metadata: Self.regression.metadata)
        }
        #expect(error.map { "\($0)" }?.contains("m.safetensors: \(message)") == true, "\(String(describing: error))")
    }

    @Test func refusesScalesThatAreNotPositiveAndParametersThatAreNotFinite() {
        var model = Self.identity
        model.setTensor("preprocess.scale", [2, 0])
        let scale = #expect(throws: TrainedModelError.self) { try TrainedModel(path: "m", model: model, metadata: Self.regression.metadata) }
        #expect(scale.map { "\($0)" } == "m: tensor 'preprocess.scale' holds 0.0 at element 1; scales must be positive and finite")
        model = Self.identity
        model.setTensor("dense_0.bias", [0, .nan])
        let nan = #expect(throws: TrainedModelError.self) { try TrainedModel(path: "m", model: model, metadata: Self.regression.metadata) }
        #expect(nan.map { "\($0)" } == "m: tensor 'dense_0.bias' holds nan at element 1; a model must be finite")
        var bad = Self.regression.metadata
        bad["swiftfl.classes"] = "many"
        let description = #expect(throws: TrainedModelError.self) { try TrainedModel(path: "m", model: Self.identity, metadata: bad) }
        #expect(description.map { "\($0)" }?.hasPrefix("m: model description: metadata swiftfl.classes is 'many'") == true)
    }

    @Test func loadsFromAFile() throws {
        let directory = try TemporaryDirectory(prefix: "trained-model")
        let path = directory.appending("best.safetensors")
        try Safetensors.write(Self.identity, to: path, metadata: Self.regression.metadata.merging(["experiment": "e"]) { a, _ in a })
        let model = try TrainedModel.load(path)
        #expect(model.path == path && model.metadata["experiment"] == "e" && model.modelDescription == Self.regression)
        #expect(model.logits(for: [3, 1]) == [1, 0])
    }
}
