import FLCLI
import FLCore
import FLTesting
import FLTraining
import Foundation
import Testing

/// `fx model predict`, `fx model evaluate`, and what `fx model inspect` says about running a file.
@Suite struct ModelRunCommandsTests {
    let directory: TemporaryDirectory

    init() throws { directory = try TemporaryDirectory(prefix: "fx-model-run") }

    static let description = ModelDescription(architecture: .softmaxRegression(inputs: 2, classes: 2), labelColumn: "y", standardization: .federated)

    /// logits = (x − [1, 1]) / [2, 1]: the identity after the preprocessing.
    static var identity: ModelState {
        var model = ModelState(zeros: description.architecture.layout)
        model.setTensor("dense_0.weight", [1, 0, 0, 1])
        return Standardizer(mean: [1, 1], scale: [2, 1]).appendingPreprocessTensors(to: model)
    }

    func write(_ model: ModelState, _ name: String = "m.safetensors", metadata: [String: String] = ModelRunCommandsTests.description.metadata) throws -> String {
        let path = directory.appending(name)
        try Safetensors.write(model, to: path, metadata: metadata)
        return path
    }

    func csv(_ text: String, _ name: String = "rows.csv") throws -> String {
        let path = directory.appending(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func predictWritesTheClassAndEachProbabilityOfEveryRow() throws {
        let model = try write(Self.identity)
        // The label column sits between the features; what it holds is not read.
        let data = try csv("a,y,b\n3,?,1\n1,,3\n\n1,7,1\n")
        let run = ModelCommandsTests.fx(["model", "predict", "--model", model, "--data", data])
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.errors.isEmpty, "\(run.errors)")
        let lines = run.output.split(separator: "\n").map(String.init)
        #expect(lines.first == "prediction,p_0,p_1")
        // [3, 1] → logits [1, 0]; [1, 3] → [0, 2]; [1, 1] → [0, 0], a tie: class 0.
        let e = Float(M_E)
        let expected: [(Int, [Float])] = [(0, [e / (e + 1), 1 / (e + 1)]), (1, [1 / (1 + e * e), e * e / (1 + e * e)]), (0, [0.5, 0.5])]
        try #require(lines.count == 4, "\(run.output)")
        for (line, (predicted, probabilities)) in zip(lines.dropFirst(), expected) {
            let fields = line.split(separator: ",")
            #expect(Int(fields[0]) == predicted, "\(line)")
            let values = fields.dropFirst().compactMap { Float($0) }
            #expect(values.count == 2 && zip(values, probabilities).allSatisfy { abs($0 - $1) < 1e-6 }, "\(line)")
        }

        // Without the label column, to a file: the same lines.
        let output = directory.appending("out.csv")
        let unlabelled = try csv("a,b\n3,1\n1,3\n1,1\n", "unlabelled.csv")
        let toFile = ModelCommandsTests.fx(["model", "predict", "--model", model, "--data", unlabelled, "--output", output])
        #expect(toFile.status == 0 && toFile.output.isEmpty, "\(toFile.errors)")
        #expect(toFile.errors.contains("wrote 3 predictions to \(output)"))
        #expect(try String(contentsOfFile: output, encoding: .utf8) == run.output)
    }

    @Test func theColumnCountIsCheckedAgainstTheModel() throws {
        let model = try write(Self.identity)
        let data = try csv("a,b,c\n1,2,3\n")
        let run = ModelCommandsTests.fx(["model", "predict", "--model", model, "--data", data])
        #expect(run.status == 1)
        #expect(run.errors.contains("\(data): 3 feature columns (every column but 'y'), but the model \(model) (softmax regression 2 → 2) takes 2"), "\(run.errors)")
        let evaluate = ModelCommandsTests.fx(["model", "evaluate", "--model", model, "--data", try csv("a,y\n1,0\n", "one.csv")])
        #expect(evaluate.status == 1 && evaluate.errors.contains("1 feature columns (every column but 'y')"), "\(evaluate.errors)")
        // Evaluation needs the labels, and reads them as classes of the model.
        let unlabelled = ModelCommandsTests.fx(["model", "evaluate", "--model", model, "--data", try csv("a,b\n1,0\n", "nolabel.csv")])
        #expect(unlabelled.errors.contains("no label column \"y\" in the header"), "\(unlabelled.errors)")
        let outside = ModelCommandsTests.fx(["model", "evaluate", "--model", model, "--data", try csv("a,y,b\n1,0,1\n1,2,1\n", "outside.csv")])
        #expect(outside.errors.contains("outside.csv:3:3: label 2 is outside the 2 classes 0..<2"), "\(outside.errors)")
    }

    @Test func aModelWithoutADescriptionIsRefusedSayingWhy() throws {
        let model = try write(Self.identity, metadata: ["created_by": "train.py"])
        let data = try csv("a,b\n1,2\n")
        for command in ["predict", "evaluate"] {
            let run = ModelCommandsTests.fx(["model", command, "--model", model, "--data", data])
            #expect(run.status == 1)
            #expect(run.errors.contains("\(model): no model description (no swiftfl.* metadata)"), "\(run.errors)")
            #expect(run.errors.contains("Run it with the code that trained it"), "\(run.errors)")
        }
        var bad = Self.description.metadata
        bad["swiftfl.standardization"] = "global"
        let run = ModelCommandsTests.fx(["model", "predict", "--model", try write(Self.identity, "bad.safetensors", metadata: bad), "--data", data])
        #expect(run.errors.contains("metadata swiftfl.standardization is 'global', expected none, local, federated"), "\(run.errors)")
    }

    /// Three rows: [3, 1] → [1, 0] (true 0), [1, 3] → [0, 2] (true 0), [5, 0] → [2, −1] (true 1).
    @Test func evaluateReportsAccuracyLossPerClassFiguresAndTheConfusionMatrix() throws {
        let model = try write(Self.identity)
        let data = try csv("a,b,y\n3,1,0\n1,3,0\n5,0,1\n")
        let run = ModelCommandsTests.fx(["model", "evaluate", "--model", model, "--data", data])
        #expect(run.status == 0, "\(run.errors)")
        let loss = (log(1 + exp(-1.0)) + log(1 + exp(2.0)) + log(exp(2.0) + exp(-1.0)) + 1) / 3
        #expect(run.output.contains("accuracy  0.3333 (1 of 3)\n"), "\(run.output)")
        #expect(run.output.contains("loss      \(String(format: "%.4f", loss)) (mean cross-entropy)\n"), "\(run.output)")
        #expect(run.output.contains("""
            class  precision  recall  support
            0         0.5000  0.5000        2
            1         0.0000  0.0000        1

            confusion matrix (rows: true class, columns: predicted class)
            true \\ predicted  0  1
            0                 1  1
            1                 1  0
            """), "\(run.output)")
        #expect(run.output.contains("inputs standardized with its preprocess.mean and preprocess.scale"))

        let json = ModelCommandsTests.fx(["model", "evaluate", "--model", model, "--data", data, "--json"])
        #expect(json.status == 0 && json.output.split(separator: "\n").count == 1, "\(json.output)")
        let node = try PlanNode.parseJSON(Array(json.output.utf8), file: "evaluate.json")
        #expect(try node.int("rows") == 3)
        #expect(abs(try node.double("accuracy") - 1.0 / 3) < 1e-12)
        #expect(abs(try node.double("loss") - loss) < 1e-6)
        #expect(node.node(at: "confusion_matrix") == [[1, 1], [1, 0]])
        #expect(try node.double("classes.0.precision") == 0.5 && node.double("classes.0.recall") == 0.5 && node.int("classes.0.support") == 2)
        #expect(try node.double("classes.1.precision") == 0 && node.int("classes.1.support") == 1)
        #expect(try node.string("input_scaling") == "preprocess_tensors")
        #expect(node.node(at: "warnings") == [])
    }

    @Test func locallyStandardizedModelsWarnAndMayFitTheStatisticsOnTheRows() throws {
        var local = Self.description
        local.standardization = .local
        let bare = ModelState(layout: local.architecture.layout, values: [1, 0, 0, 1, 0, 0])
        let model = try write(bare, metadata: local.metadata)
        let data = try csv("a,b,y\n3,1,0\n1,3,1\n")
        let run = ModelCommandsTests.fx(["model", "evaluate", "--model", model, "--data", data])
        #expect(run.status == 0)
        #expect(run.errors.hasPrefix("warning: \(model): the sites standardized their inputs each with its own statistics"), "\(run.errors)")
        #expect(run.output.contains("inputs used unscaled (see the warning)"))

        // Column means [2, 2] and standard deviations [1, 1]: [3, 1] → [1, −1], [1, 3] → [−1, 1], both right.
        let fitted = ModelCommandsTests.fx(["model", "evaluate", "--model", model, "--data", data, "--standardize-from-data", "--json"])
        #expect(fitted.status == 0 && fitted.errors.isEmpty, "\(fitted.errors)")
        let node = try PlanNode.parseJSON(Array(fitted.output.utf8), file: "evaluate.json")
        #expect(try node.double("accuracy") == 1 && node.string("input_scaling") == "fitted_on_data")
        let predicted = ModelCommandsTests.fx(["model", "predict", "--model", model, "--data", data, "--standardize-from-data"])
        #expect(predicted.output.split(separator: "\n").map { $0.prefix(2) } == ["pr", "0,", "1,"], "\(predicted.output)")

        // A model that carries its statistics keeps them.
        let carried = ModelCommandsTests.fx(["model", "predict", "--model", try write(Self.identity, "carried.safetensors"), "--data", data,
                                             "--standardize-from-data"])
        #expect(carried.status == 1 && carried.errors.contains("carries its own preprocessing"), "\(carried.errors)")
    }

    @Test func inspectShowsTheDescriptionInWordsAndThePreprocessing() throws {
        let mlp = ModelDescription(architecture: .mlp(inputs: 8, hidden: [4], classes: 3, activation: .tanh), labelColumn: "digit", standardization: .federated)
        let standardizer = Standardizer(mean: (0..<8).map { Float($0) / 2 }, scale: [Float](repeating: 0.25, count: 8))
        let model = try write(standardizer.appendingPreprocessTensors(to: mlp.architecture.initialModel(seed: 1)),
                              metadata: mlp.metadata.merging(["experiment": "bc-1"]) { a, _ in a })
        let run = ModelCommandsTests.fx(["model", "inspect", model])
        #expect(run.status == 0, "\(run.errors)")
        for line in ["  metadata experiment: bc-1\n", "  network: MLP 8 → 4 → 3 (tanh)\n", "  label column: digit (the features are every other column, in file order)\n",
                     "  standardization: federated (one standardizer from every site's statistics)\n",
                     "  preprocessing: x' = (x − preprocess.mean) / preprocess.scale, 8 features\n",
                     "    mean   0.0, 0.5, 1.0, 1.5, 2.0, 2.5, … (8 values)\n", "  run it: fx model predict --model \(model) --data CSV\n"] {
            #expect(run.output.contains(line), "\(line) in \(run.output)")
        }
        #expect(!run.output.contains("metadata swiftfl."), "the raw keys are shown in words: \(run.output)")
        let json = try PlanNode.parseJSON(Array(ModelCommandsTests.fx(["model", "inspect", "--json", model]).output.utf8), file: "inspect.json")
        #expect(try json.string("description.model") == "mlp" && json.string("description.activation") == "tanh")
        #expect(json.node(at: "description.hidden_layers") == [4])
        #expect(json.node(at: "preprocessing.scale") == PlanNode(.sequence([PlanNode]((0..<8).map { _ in PlanNode(.float(0.25)) }))))
        #expect(json.node(at: "metadata")?.asMapping?["swiftfl.model"]?.asString == "mlp", "the raw metadata stays in the JSON")

        // Locally standardized and bare: a warning; no description: what predict would say.
        var local = mlp
        local.standardization = .local
        let bare = ModelCommandsTests.fx(["model", "inspect", try write(mlp.architecture.initialModel(seed: 1), "bare.safetensors", metadata: local.metadata)])
        #expect(bare.output.contains("  preprocessing: none in the file\n  warning: the sites standardized their inputs each with its own statistics"), "\(bare.output)")
        let foreign = ModelCommandsTests.fx(["model", "inspect", try write(Self.identity, "foreign.safetensors", metadata: [:])])
        #expect(foreign.output.contains("no model description (swiftfl.* metadata): `fx model predict` cannot run it"), "\(foreign.output)")
        #expect(foreign.output.contains("preprocessing: x' = (x − preprocess.mean) / preprocess.scale, 2 features"), "\(foreign.output)")
        var broken = Self.identity
        broken.setTensor("preprocess.scale", [1, -1])
        let unusable = ModelCommandsTests.fx(["model", "inspect", try write(broken, "broken.safetensors")])
        #expect(unusable.output.contains("preprocessing: unusable: tensor 'preprocess.scale' holds -1.0 at element 1"), "\(unusable.output)")
    }
}
