import FLCore
import FLTesting
import Foundation
import Testing

@Suite struct SafetensorsHeaderValuesTests {
    static func le<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] { values.flatMap { v in withUnsafeBytes(of: v.littleEndian, Array.init) } }

    @Test func readsOneTensorConvertedToFloat32() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = "\(directory.path)/mixed.safetensors"
        try Data(SafetensorsFixture.bytes([
            ("w", "F32", [2], Self.le([Float(0.1).bitPattern, Float(-2).bitPattern])),
            ("preprocess.mean", "F64", [3], Self.le([1.5, -0.25, 1e-50].map(\.bitPattern))),
        ])).write(to: URL(fileURLWithPath: path))
        let header = try SafetensorsHeader.read(path)
        #expect(try header.values(of: "w") == [0.1, -2])
        #expect(try header.values(of: "preprocess.mean") == [1.5, -0.25, 0])
        #expect(try header.values(of: "absent") == nil)
        // A file cut short after its header was read is reported, not read past its end.
        try FileManager.default.removeItem(atPath: path)
        #expect(throws: SafetensorsError.self) { try header.values(of: "w") }
    }
}
