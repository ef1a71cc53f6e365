import FLCLI
import FLCore
import FLTesting
import FLTraining
import Foundation
import Testing

/// `fx model predict` computes what numpy computes from the same file: the README's numpy example
/// (run as the README prints it) and an independent reading with Python's `safetensors` package
/// (the wheel in Tests/Interop), with and without preprocess tensors, for softmax regression and MLPs.
@Suite struct ModelPredictInteropTests {
    static let script = "\(PythonInterop.interopDirectory)/predict_interop.py"

    struct Case: Sendable, CustomTestStringConvertible {
        var architecture: NetworkArchitecture
        var preprocess: Bool
        var testDescription: String { "\(architecture)\(preprocess ? " with preprocess tensors" : "")" }
    }

    static let cases: [Case] = [
        Case(architecture: .softmaxRegression(inputs: 5, classes: 3), preprocess: false),
        Case(architecture: .softmaxRegression(inputs: 5, classes: 2), preprocess: true),
        Case(architecture: .mlp(inputs: 6, hidden: [16, 8], classes: 4, activation: .relu), preprocess: true),
        Case(architecture: .mlp(inputs: 6, hidden: [12], classes: 3, activation: .tanh), preprocess: false),
    ]

    @Test(.disabled(if: PythonInterop.skipped, "SWIFTFL_SKIP_PYTHON=1"), arguments: cases)
    func predictMatchesNumpy(_ c: Case) throws {
        try PythonInterop.requireNumpy()
        let directory = try TemporaryDirectory(prefix: "predict-interop")
        let inputs = c.architecture.inputCount
        var rng = SeededGenerator(seed: UInt64(c.architecture.layout.count))
        // With preprocess tensors, features as raw measurements are (around 50 ± 20), which only the
        // preprocessing brings to the scale the weights expect; without, features already on that scale.
        let mean = (0..<inputs).map { _ in c.preprocess ? Float(50 + 10 * rng.normal()) : 0 }
        let scale = (0..<inputs).map { _ in c.preprocess ? Float(5 + 20 * rng.uniform()) : 2 }
        var model = c.architecture.initialModel(seed: 7)
        for i in model.values.indices where i % 5 == 0 { model.values[i] += Float(rng.normal() * 0.1) }
        if c.preprocess { model = Standardizer(mean: mean, scale: scale).appendingPreprocessTensors(to: model) }
        let description = ModelDescription(architecture: c.architecture, labelColumn: "outcome", standardization: c.preprocess ? .federated : .none)
        let modelPath = directory.appending("model.safetensors")
        try Safetensors.write(model, to: modelPath, metadata: description.metadata.merging(["experiment": "interop"]) { a, _ in a })

        // 200 rows; the label column second, as a file exported from elsewhere might have it.
        var text = "f0,outcome," + (1..<inputs).map { "f\($0)" }.joined(separator: ",") + "\n"
        for _ in 0..<200 {
            let row = (0..<inputs).map { j in String(format: "%.3f", Double(mean[j]) + Double(scale[j]) * rng.normal()) }
            text += ([row[0], String(rng.integer(below: c.architecture.classCount))] + row.dropFirst()).joined(separator: ",") + "\n"
        }
        let dataPath = directory.appending("rows.csv")
        try text.write(toFile: dataPath, atomically: true, encoding: .utf8)

        let run = ModelCommandsTests.fx(["model", "predict", "--model", modelPath, "--data", dataPath])
        #expect(run.status == 0 && run.errors.isEmpty, "\(run.errors)")
        let lines = run.output.split(separator: "\n").dropFirst()
        let ours = lines.map { line in line.split(separator: ",").map { Double($0)! } }
        try #require(ours.count == 200)

        let environment = ["PYTHONPATH": try PythonInterop.unpackSafetensors(into: directory.path), "PYTHONDONTWRITEBYTECODE": "1"]
        let out = directory.appending("numpy.json")
        _ = try PythonInterop.check([Self.script, "\(PythonInterop.repositoryRoot)/README.md", modelPath, dataPath, out], environment: environment)
        let result = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
        for source in ["readme", "reference"] {
            let numpy = try #require(result[source] as? [String: Any], "\(source)")
            #expect(numpy["dtype"] as? String == "float32", "\(source) computes in float32 as we do")
            let predictions = try #require(numpy["predictions"] as? [Int]), probabilities = try #require(numpy["probabilities"] as? [[Double]])
            try #require(predictions.count == 200 && probabilities.count == 200, "\(source)")
            var worst = 0.0
            for r in 0..<200 {
                let p = Array(ours[r].dropFirst())
                worst = max(worst, zip(p, probabilities[r]).map { abs($0 - $1) }.max()!)
                // Rounding differs in the last bits (numpy sums in another order), so only a clear winner must agree.
                let sorted = probabilities[r].sorted(by: >)
                if sorted[0] - sorted[1] > 1e-4 { #expect(Int(ours[r][0]) == predictions[r], "\(source) row \(r): \(ours[r]) vs \(probabilities[r])") }
            }
            #expect(worst < 1e-5, "\(source): probabilities differ by up to \(worst)")
            // Not everything in one class: the comparison means something.
            #expect(Set(predictions).count > 1, "\(source): \(Set(predictions))")
        }
    }
}
