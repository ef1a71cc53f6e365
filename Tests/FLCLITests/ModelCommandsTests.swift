import FLCLI
import FLCore
import FLTesting
import Foundation
import Testing

/// `fx model inspect` and `fx model convert`, run through the command tree with a capturing console.
@Suite struct ModelCommandsTests {
    struct Run {
        let status: Int32
        let output: String
        let errors: String
    }

    static func fx(_ words: [String], environment: [String: String] = ["SWIFTFL_HOME": PythonInterop.repositoryRoot]) -> Run {
        let (console, captured) = Console.capturing()
        let status = FX.command.main(words, context: CommandContext(console: console, environment: environment, currentDirectory: "/"))
        return Run(status: status, output: captured.standardOutput, errors: captured.standardError)
    }

    static func le<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] { values.flatMap { v in withUnsafeBytes(of: v.littleEndian, Array.init) } }

    /// A file as PyTorch or numpy might write it: mixed dtypes, sorted by dtype then name.
    static let mixed: [UInt8] = SafetensorsFixture.bytes([
        ("weight", "F64", [2, 2], le([1.5, -0.1, 1e-50, 3.0e38].map(\.bitPattern))),
        ("bias", "F16", [3], le([UInt16(0x3C00), 0xC000, 0x3555])),  // 1, -2, 0.33325195
        ("scale", "BF16", [2], le([UInt16(0x3F80), 0x4049])),  // 1, 3.140625
        ("steps", "I64", [1], le([Int64(16_777_217)])),  // rounds to 16777216
        ("mask", "BOOL", [3], [1, 0, 1]),
        ("kept", "F32", [2], le([Float(0.1).bitPattern, Float(-0.0).bitPattern])),
    ], metadata: ["format": "pt", "source": "torch.save"])

    @Test func inspectShowsNamesDtypesShapesAndCounts() throws {
        let directory = try TemporaryDirectory(prefix: "fx-model")
        let file = directory.appending("mixed.safetensors")
        try Data(Self.mixed).write(to: URL(fileURLWithPath: file))
        let run = Self.fx(["model", "inspect", file])
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.output.contains("6 tensors, 15 parameters (F32: 2, F64: 4, F16: 3, BF16: 2, I64: 1, BOOL: 3)"), "\(run.output)")
        #expect(run.output.contains("metadata format: pt\n"))
        #expect(run.output.contains("  weight  F64    [2, 2]  4\n"), "\(run.output)")
        #expect(run.output.contains("  steps   I64    [1]     1\n"), "\(run.output)")
        #expect(run.output.contains("not a SwiftFL model as it is"))

        let json = Self.fx(["model", "inspect", "--json", file])
        #expect(json.status == 0)
        let node = try PlanNode.parseJSON(Array(json.output.utf8), file: "inspect.json")
        #expect(try node.int("parameter_count") == 15)
        #expect(try node.bool("swiftfl_model") == false)
        #expect(try node.string("metadata.source") == "torch.save")
        #expect(try node.string("tensors.1.name") == "bias")
        #expect(try node.string("tensors.1.dtype") == "F16")
        #expect(node.node(at: "tensors.1.data_offsets") == [32, 38])
        #expect(try node.int("data_bytes") == 32 + 6 + 4 + 8 + 3 + 8)
    }

    @Test func inspectNamesTheFileAndTheDefect() throws {
        let directory = try TemporaryDirectory(prefix: "fx-model")
        let file = directory.appending("short.safetensors")
        // Shape [3] of F32 needs 12 bytes; the entry claims 8.
        try Data(SafetensorsFixture.bytes([("w", "F32", [3], [UInt8](repeating: 0, count: 8))])).write(to: URL(fileURLWithPath: file))
        let run = Self.fx(["model", "inspect", file])
        #expect(run.status == 1)
        #expect(run.errors.contains("\(file): not a usable safetensors model: tensor 'w' spans 8 bytes but F32 shape [3] needs 12"), "\(run.errors)")
        #expect(Self.fx(["model", "inspect", directory.appending("absent.safetensors")]).errors.contains("No such file"))
    }

    @Test func convertTurnsEveryDTypeIntoFloat32() throws {
        let directory = try TemporaryDirectory(prefix: "fx-model")
        let input = directory.appending("mixed.safetensors"), output = directory.appending("f32.safetensors")
        try Data(Self.mixed).write(to: URL(fileURLWithPath: input))
        let run = Self.fx(["model", "convert", "--input", input, "--output", output])
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.output.contains("6 tensors, 15 parameters (F32 kept: 1, F64 → F32: 1, F16 → F32: 1, BF16 → F32: 1, I64 → F32: 1, BOOL → F32: 1)"), "\(run.output)")
        let (model, metadata) = try Safetensors.read(output)
        #expect(metadata == ["format": "pt", "source": "torch.save"])
        #expect(model.layout.tensors.map(\.name) == ["weight", "bias", "scale", "steps", "mask", "kept"])
        #expect(model.tensor("weight") == [1.5, Float(-0.1), 0, 3.0e38])
        #expect(model.tensor("bias") == [1, -2, 0.33325195])
        #expect(model.tensor("scale") == [1, 3.140625])
        #expect(model.tensor("steps") == [16_777_216])
        #expect(model.tensor("mask") == [1, 0, 1])
        #expect(model.tensor("kept")!.map(\.bitPattern) == [Float(0.1).bitPattern, Float(-0.0).bitPattern])
        // Converting a SwiftFL model changes nothing.
        let again = directory.appending("again.safetensors")
        #expect(Self.fx(["model", "convert", "--input", output, "--output", again]).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: again)) == Data(contentsOf: URL(fileURLWithPath: output)))
    }

    @Test func convertRefusesValuesFloat32CannotHold() throws {
        let directory = try TemporaryDirectory(prefix: "fx-model")
        let input = directory.appending("big.safetensors"), output = directory.appending("out.safetensors")
        try Data(SafetensorsFixture.bytes([("w", "F64", [2], Self.le([1.0, 1e300].map(\.bitPattern)))])).write(to: URL(fileURLWithPath: input))
        let run = Self.fx(["model", "convert", "--input", input, "--output", output])
        #expect(run.status == 1)
        #expect(run.errors.contains("tensor 'w' has inf at element 1 after conversion from F64; models must be finite, nothing written"), "\(run.errors)")
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test func convertWithAWorkspacePutsTensorsInThePlansOrder() throws {
        let directory = try TemporaryDirectory(prefix: "fx-model")
        let workspace = directory.appending("ws")
        let created = Self.fx(["workspace", "create", "--prefix", workspace, "--template", "digits_numpy"])
        try #require(created.status == 0, "\(created.errors)")
        // A numpy/PyTorch checkpoint: float64, bias before weight.
        let weights = (0..<640).map { Double($0) / 640 }, bias = (0..<10).map { -Double($0) }
        let input = directory.appending("numpy.safetensors"), output = "\(workspace)/save/init.safetensors"
        try Data(SafetensorsFixture.bytes([("dense_0.bias", "F64", [10], Self.le(bias.map(\.bitPattern))),
                                        ("dense_0.weight", "F64", [10, 64], Self.le(weights.map(\.bitPattern)))]))
            .write(to: URL(fileURLWithPath: input))
        let run = Self.fx(["model", "convert", "--input", input, "--output", output, "--workspace", workspace])
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.output.contains("in the plan's order"))
        let model = try Safetensors.read(output).model
        // The plan's own tensors, then its standardizer (features as they are until the sites' statistics are in).
        #expect(model.layout.tensors.map(\.name) == ["dense_0.weight", "dense_0.bias", "preprocess.mean", "preprocess.scale"])
        #expect(model.tensor("preprocess.scale") == [Float](repeating: 1, count: 64))
        #expect(model.tensor("dense_0.weight") == weights.map(Float.init))
        #expect(model.tensor("dense_0.bias") == bias.map(Float.init))

        let wrong = directory.appending("wrong.safetensors")
        try Data(SafetensorsFixture.bytes([("dense_0.weight", "F32", [64, 10], [UInt8](repeating: 0, count: 2560)),
                                        ("dense_0.bias", "F32", [10], [UInt8](repeating: 0, count: 40))])).write(to: URL(fileURLWithPath: wrong))
        let refused = Self.fx(["model", "convert", "--input", wrong, "--output", directory.appending("x.safetensors"), "--workspace", workspace])
        #expect(refused.status == 1)
        #expect(refused.errors.contains("tensor 'dense_0.weight' has shape [64, 10], expected [10, 64]"), "\(refused.errors)")
    }

    @Test func helpSaysOurLayoutIsSafetensorsFloat32() {
        let run = Self.fx(["model", "--help"])
        #expect(run.status == 0)
        #expect(run.output.contains("exactly a safetensors file whose tensors are all F32"))
        #expect(run.output.contains("inspect") && run.output.contains("convert"))
    }
}
