import FLCore
import FLTesting
import FLTraining
import Foundation
import Testing

/// What an external command reads and writes must mean the same on both sides, to the bit: our
/// writer against Python's `safetensors` package (the wheel in Tests/Interop, unzipped; no network)
/// and against the small numpy reader shipped in workspaces/digits_numpy/src, and the other way
/// round; and our conversion of other dtypes against numpy's `astype(float32)`.
@Suite struct ExternalSafetensorsInteropTests {
    static let script = "\(PythonInterop.interopDirectory)/safetensors_interop.py"

    /// Several tensors in name order (as the reference writer orders them), with values that catch
    /// any conversion on the way: negative zero, subnormals, the extremes, infinities, a NaN payload.
    static let model: ModelState = {
        let layout = try! ModelLayout([
            TensorSpec(name: "conv.bias", shape: [4]), TensorSpec(name: "conv.weight", shape: [4, 3, 3, 3]),
            TensorSpec(name: "dense.weight", shape: [10, 108]), TensorSpec(name: "empty", shape: [0, 5]),
            TensorSpec(name: "scalar", shape: []), TensorSpec(name: "z.bias", shape: [10]),
        ])
        var rng = SeededGenerator(seed: 11)
        var values = (0..<layout.count).map { _ in Float(rng.normal()) }
        let specials: [Float] = [-0.0, .leastNonzeroMagnitude, -.leastNormalMagnitude, .greatestFiniteMagnitude, -.infinity, .infinity,
                                 Float(bitPattern: 0x7FC0_0123), Float(bitPattern: 0xFFA0_0001)]
        for (i, v) in specials.enumerated() { values[i * 7] = v }
        return ModelState(layout: layout, values: values)
    }()
    static let metadata = ["created_by": "SwiftFL", "round": "3"]
    static let singleMetadata = ["format": "pt"]

    struct Python {
        let directory: TemporaryDirectory
        let environment: [String: String]

        init() throws {
            try PythonInterop.requireNumpy()
            directory = try TemporaryDirectory(prefix: "safetensors-interop")
            environment = ["PYTHONPATH": try PythonInterop.unpackSafetensors(into: directory.path), "PYTHONDONTWRITEBYTECODE": "1"]
        }

        func run(_ arguments: [String]) throws {
            _ = try PythonInterop.check([ExternalSafetensorsInteropTests.script] + arguments, environment: environment)
        }

        func json(_ name: String) throws -> PlanNode {
            try PlanNode.parseJSON(Data(contentsOf: URL(fileURLWithPath: directory.appending(name))), file: name)
        }
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
    static func bytes(_ values: ArraySlice<Float>) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

    @Test(.disabled(if: PythonInterop.skipped, "SWIFTFL_SKIP_PYTHON=1"))
    func pythonReadersSeeExactlyWhatWeWrote() throws {
        let python = try Python()
        let file = python.directory.appending("ours.safetensors")
        try Safetensors.write(Self.model, to: file, metadata: Self.metadata)
        try python.run(["read", file, python.directory.appending("read.json")])
        let read = try python.json("read.json")
        #expect(try read.string("version") == "0.8.0")
        for reader in ["reference", "numpy"] {
            let tensors = try #require(read.node(at: reader)?.asMapping)
            #expect(tensors.keys.sorted() == Self.model.layout.tensors.map(\.name), "\(reader)")
            for (i, spec) in Self.model.layout.tensors.enumerated() {
                let seen = try #require(tensors[spec.name], "\(reader) lost \(spec.name)")
                #expect(try seen.string("dtype") == "F32")
                #expect(seen.node(at: "shape") == PlanNode(.sequence(spec.shape.map { PlanNode(.int($0)) })), "\(reader) \(spec.name)")
                #expect(try seen.string("hex") == Self.hex(Self.bytes(Self.model.values[Self.model.layout.range(at: i)])), "\(reader) \(spec.name) differs")
            }
            #expect(read.node(at: "\(reader)_metadata") == PlanNode(.mapping(Self.metadataMapping)), "\(reader)")
        }
    }

    @Test(.disabled(if: PythonInterop.skipped, "SWIFTFL_SKIP_PYTHON=1"))
    func weReadExactlyWhatPythonWrote() throws {
        let python = try Python()
        // The spec lists the tensors in reverse: the reference writer sorts them, the numpy one keeps the order.
        let layout = Self.model.layout
        let reversed = Array(layout.tensors.indices.reversed())
        let spec = try Self.spec(reversed.map { i in (layout.tensors[i].name, "F32", layout.tensors[i].shape, Self.bytes(Self.model.values[layout.range(at: i)])) },
                                 metadata: Self.singleMetadata)
        try spec.write(toFile: python.directory.appending("spec.json"), atomically: true, encoding: .utf8)
        try python.run(["write", python.directory.appending("spec.json"), python.directory.path])

        for name in ["reference.safetensors", "numpy.safetensors"] {
            let (model, metadata) = try Safetensors.read(python.directory.appending(name), matching: layout)
            #expect(metadata == Self.singleMetadata, "\(name)")
            #expect(model.values.map(\.bitPattern) == Self.model.values.map(\.bitPattern), "\(name)")
        }
        // The numpy writer kept the reversed order, which the fast reader takes as it is.
        let asWritten = try Safetensors.read(python.directory.appending("numpy.safetensors")).model
        #expect(asWritten.layout.tensors.map(\.name) == reversed.map { layout.tensors[$0].name })
        for spec in layout.tensors { #expect(asWritten.tensor(spec.name)!.map(\.bitPattern) == Self.model.tensor(spec.name)!.map(\.bitPattern)) }
        // With tensors in name order, our file is the reference writer's, byte for byte (with one
        // metadata key: the reference orders several by hash).
        let reference = try Data(contentsOf: URL(fileURLWithPath: python.directory.appending("reference.safetensors")))
        #expect(reference == Safetensors.encode(Self.model, metadata: Self.singleMetadata))
    }

    @Test(.disabled(if: PythonInterop.skipped, "SWIFTFL_SKIP_PYTHON=1"))
    func otherDTypesConvertToFloat32AsNumpyCastsThem() throws {
        let python = try Python()
        var rng = SeededGenerator(seed: 5)
        func le<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] { values.flatMap { v in withUnsafeBytes(of: v.littleEndian, Array.init) } }
        // Doubles with every mantissa bit in use, halfway cases, and values below float32's normal range.
        var doubles = (0..<64).map { _ in rng.normal() * 1000 }
        doubles += [1 + 0x1p-24, 1 + 0x1p-24 + 0x1p-52, -(1 + 3 * 0x1p-24), 1e-40, -3e-45, 1e-46, 3.4028235677973366e38, -0.0]
        var halves = (0..<200).map { _ in UInt16(truncatingIfNeeded: rng.next()) }.filter { ($0 & 0x7C00) != 0x7C00 || ($0 & 0x3FF) == 0 }
        halves += [0x7C00, 0xFC00, 0x0001, 0x8000]
        let tensors: [(String, String, [Int], [UInt8])] = [
            ("f64", "F64", [doubles.count], le(doubles.map(\.bitPattern))),
            ("f16", "F16", [halves.count], le(halves)),
            ("i64", "I64", [6], le([Int64.max, Int64.min, (1 << 62) + 1, (1 << 24) + 1, -((1 << 25) + 3), 0])),
            ("i32", "I32", [2, 2], le([Int32.max, Int32.min, 16_777_217, -7])),
            ("i16", "I16", [3], le([Int16.max, Int16.min, -1])),
            ("i8", "I8", [3], le([Int8.max, Int8.min, 0])),
            ("u64", "U64", [2], le([UInt64.max, (1 << 53) + 1])),
            ("u32", "U32", [2], le([UInt32.max, 16_777_219])),
            ("u16", "U16", [2], le([UInt16.max, 1])),
            ("u8", "U8", [3], [0, 128, 255]),
            ("flags", "BOOL", [4], [0, 1, 1, 0]),
            ("same", "F32", [2], le([Float(1.5).bitPattern, Float(-2).bitPattern])),
        ]
        try Self.spec(tensors, metadata: [:]).write(toFile: python.directory.appending("spec.json"), atomically: true, encoding: .utf8)
        try python.run(["write", python.directory.appending("spec.json"), python.directory.path])
        try python.run(["cast", python.directory.appending("spec.json"), python.directory.appending("cast.json")])
        let cast = try python.json("cast.json")

        let (model, _, types) = try Safetensors.readConverting(python.directory.appending("reference.safetensors"))
        #expect(Set(model.layout.tensors.map(\.name)) == Set(tensors.map(\.0)))
        for (name, dtype, shape, _) in tensors {
            #expect(types[name]?.rawValue == dtype)
            #expect(model.layout.tensors[model.layout.index(of: name)!].shape == shape)
            let ours = Self.hex(Self.bytes(model.values[model.layout.range(of: name)!]))
            #expect(try cast.string(name) == ours, "\(dtype) \(name): numpy and we convert differently")
        }
    }

    static var metadataMapping: PlanMapping {
        var m = PlanMapping()
        for key in metadata.keys.sorted() { m[key] = PlanNode(.string(metadata[key]!)) }
        return m
    }

    /// The JSON the Python script's `write` and `cast` read; keys (so the metadata) sorted.
    static func spec(_ tensors: [(String, String, [Int], [UInt8])], metadata: [String: String]) throws -> String {
        var root = PlanMapping()
        root["tensors"] = PlanNode(.sequence(tensors.map { name, dtype, shape, bytes in
            ["name": PlanNode(.string(name)), "dtype": PlanNode(.string(dtype)), "shape": PlanNode(.sequence(shape.map { PlanNode(.int($0)) })),
             "hex": PlanNode(.string(hex(bytes)))]
        }))
        var meta = PlanMapping()
        for key in metadata.keys.sorted() { meta[key] = PlanNode(.string(metadata[key]!)) }
        root["metadata"] = PlanNode(.mapping(meta))
        return try PlanNode(.mapping(root)).canonicalJSON()
    }
}
