import FLCore
import FLTesting
import Foundation
import Testing

/// `Safetensors` and `SafetensorsHeader` read through one header parser: every refusal is checked on
/// both the file path (`read`) and the in-memory path (`decode`), which must agree to the word.
@Suite struct SafetensorsTests {
    static let layout = try! ModelLayout([TensorSpec(name: "b", shape: [2]), TensorSpec(name: "a.w", shape: [2, 3]), TensorSpec(name: "s", shape: [])])
    static let model = ModelState(layout: layout, values: (0..<9).map { Float($0) * 0.5 - 1 })

    /// A file with `header` as its JSON header (unpadded) and `data` as its data section.
    static func file(header: String, data: [UInt8] = []) -> [UInt8] {
        let json = Array(header.utf8)
        return withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init) + json + data
    }

    static func f32(_ values: [Float]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) } }

    /// The reasons `decode` and `read` (from a file) give for refusing `bytes`; nil for a path that accepted them.
    static func refusals(_ bytes: [UInt8]) throws -> (decode: String?, read: String?, header: String?) {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = "\(directory.path)/model.safetensors"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        func reason(_ body: () throws -> Void) -> String? {
            do { try body(); return nil } catch let error as SafetensorsError { return error.reason } catch { return "not a SafetensorsError: \(error)" }
        }
        return (reason { _ = try Safetensors.decode(Data(bytes), source: path) },
                reason { _ = try Safetensors.read(path) },
                reason { _ = try SafetensorsHeader.read(path) })
    }

    /// Expects `bytes` refused by every reader with `reason`; `headerAccepts` when only the model rule refuses it.
    static func expectRefused(_ bytes: [UInt8], _ reason: String, headerAccepts: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let got = try refusals(bytes)
        #expect(got.decode == reason, sourceLocation: sourceLocation)
        #expect(got.read == reason, sourceLocation: sourceLocation)
        #expect(got.header == (headerAccepts ? nil : reason), sourceLocation: sourceLocation)
    }

    @Test func roundTripsThroughFileAndMemory() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = "\(directory.path)/model.safetensors"
        let metadata = ["format": "pt", "round": "3"]
        try Safetensors.write(Self.model, to: path, metadata: metadata)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(bytes == Safetensors.encode(Self.model, metadata: metadata))
        let (read, readMetadata) = try Safetensors.read(path)
        #expect(read == Self.model)
        #expect(read.layout.tensors == Self.layout.tensors)
        #expect(readMetadata == metadata)
        let (decoded, decodedMetadata) = try Safetensors.decode(bytes)
        #expect(decoded == Self.model)
        #expect(decodedMetadata == metadata)
        let header = try SafetensorsHeader.read(path)
        #expect(header.entries.map(\.byteRange) == [0..<8, 8..<32, 32..<36])
        #expect(header.dataOffset + header.dataSize == bytes.count)
        // The header is padded with spaces to a multiple of 8 bytes, as the reference writer pads it.
        #expect(header.headerLength % 8 == 0)
        #expect(try header.modelLayout() == Self.layout)
    }

    @Test func readsTensorsInDataOrderWhateverTheHeaderOrder() throws {
        // Python's writer sorts header keys; the data order decides the layout.
        let bytes = Self.file(header: #"{"z":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"m":{"dtype":"F32","shape":[],"data_offsets":[4,8]}}"#,
                              data: Self.f32([1, 2]))
        let (model, metadata) = try Safetensors.decode(Data(bytes))
        #expect(model.layout.tensors.map(\.name) == ["z", "a", "m"])
        #expect(model.values == [1, 2])
        #expect(metadata.isEmpty)
    }

    @Test func refusesFilesShorterThanTheLengthPrefix() throws {
        try Self.expectRefused([], "file is 0 bytes, shorter than the 8-byte header length")
        try Self.expectRefused([2, 0, 0, 0, 0, 0, 0], "file is 7 bytes, shorter than the 8-byte header length")
    }

    @Test func refusesAHeaderLengthBeyondTheFileOrTheLimit() throws {
        let short = withUnsafeBytes(of: UInt64(3).littleEndian, Array.init) + Array("{}".utf8)
        try Self.expectRefused(short, "header length 3 exceeds the file size (10 bytes) or the 100000000-byte limit")
        let huge = withUnsafeBytes(of: UInt64.max.littleEndian, Array.init) + Array("{}".utf8)
        try Self.expectRefused(huge, "header length \(UInt64.max) exceeds the file size (10 bytes) or the 100000000-byte limit")
    }

    @Test func refusesHeadersThatAreNotAJSONObject() throws {
        let got = try Self.refusals(Self.file(header: #"{"w":"#))
        for reason in [got.decode, got.read, got.header] {
            #expect(reason?.hasPrefix("header is not valid JSON: ") == true, "\(String(describing: reason))")
        }
        try Self.expectRefused(Self.file(header: "[1, 2]"), "header is not a JSON object")
        try Self.expectRefused(Self.file(header: #"{"__metadata__":{"n":1}}"#), "__metadata__.n is not a string")
        try Self.expectRefused(Self.file(header: #"{"w":[]}"#), "entry 'w' is not an object")
    }

    @Test func refusesDuplicateNames() throws {
        let got = try Self.refusals(Self.file(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                                              data: Self.f32([1, 2])))
        for reason in [got.decode, got.read, got.header] {
            #expect(reason?.hasPrefix("header is not valid JSON: ") == true && reason?.hasSuffix(#"duplicate key "w""#) == true, "\(String(describing: reason))")
        }
    }

    @Test func refusesUnknownDtypesAndBadShapes() throws {
        let known = DType.allCases.map(\.rawValue).joined(separator: ", ")
        try Self.expectRefused(Self.file(header: #"{"w":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}}"#, data: [0]),
                               "tensor 'w' has dtype 'F8', which SwiftFL does not read (known: \(known))")
        try Self.expectRefused(Self.file(header: #"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, data: Self.f32([1])), "tensor 'w' has no dtype")
        try Self.expectRefused(Self.file(header: #"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#, data: Self.f32([1])), "tensor 'w' has no shape list")
        for shape in ["[-1]", "[1.0]", "[\"1\"]"] {
            try Self.expectRefused(Self.file(header: #"{"w":{"dtype":"F32","shape":\#(shape),"data_offsets":[0,4]}}"#, data: Self.f32([1])),
                                   "tensor 'w' has a shape entry that is not a non-negative integer")
        }
        try Self.expectRefused(Self.file(header: #"{"w":{"dtype":"F32","shape":[131072,131072,2],"data_offsets":[0,4]}}"#, data: Self.f32([1])),
                               "tensor 'w' shape [131072, 131072, 2] is too large")
    }

    @Test func refusesOffsetsThatDoNotMatchTheShapeOrTheDataSection() throws {
        func one(_ offsets: String, data: Int = 4) -> [UInt8] {
            Self.file(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":\#(offsets)}}"#, data: [UInt8](repeating: 0, count: data))
        }
        let invalid = "tensor 'w' has invalid data_offsets (expected [begin, end] with 0 <= begin <= end)"
        for offsets in ["[4,0]", "[-4,0]", "[0]", "[0,4,8]", "[0,4.0]", "null"] { try Self.expectRefused(one(offsets), invalid) }
        try Self.expectRefused(one("[0,8]", data: 8), "tensor 'w' spans 8 bytes but F32 shape [1] needs 4")
        try Self.expectRefused(one("[4,8]", data: 8), "tensor 'w' starts at byte 4, expected 0 (gap or overlap)")
        try Self.expectRefused(one("[0,4]", data: 8), "tensors cover 4 bytes but the data section has 8")
        try Self.expectRefused(one("[0,4]", data: 3), "tensors cover 4 bytes but the data section has 3")
        let overlap = Self.file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                                data: Self.f32([1, 2]))
        try Self.expectRefused(overlap, "tensor 'b' starts at byte 4, expected 8 (gap or overlap)")
    }

    @Test func readsOtherDtypesOnlyAsAHeaderOrConverted() throws {
        let bytes = SafetensorsFixture.bytes([("w", "F32", [1], Self.f32([1])), ("n", "I64", [1], withUnsafeBytes(of: Int64(7).littleEndian, Array.init))])
        try Self.expectRefused(bytes, "tensor 'n' has dtype I64; SwiftFL models are F32 (convert with `fx model convert`)", headerAccepts: true)
        let header = try SafetensorsHeader.decode(bytes, path: "mixed")
        #expect(header.entries.map(\.spec) == [TensorSpec(name: "w", shape: [1]), TensorSpec(name: "n", shape: [1], dtype: .int64)])
        #expect(header.parameterCount == 2)
    }

    @Test func refusesNamesAModelCannotHave() throws {
        let bytes = Self.file(header: #"{"":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: Self.f32([1]))
        try Self.expectRefused(bytes, "tensor #0 has an empty name", headerAccepts: true)
    }
}
