/// Builds safetensors files byte by byte, so tests can make files with any dtype or defect that
/// SwiftFL's own writer would never produce.
public enum SafetensorsFixture {
    /// A safetensors file holding `tensors` (raw little-endian bytes each) in order, with `metadata`.
    public static func bytes(_ tensors: [(name: String, dtype: String, shape: [Int], bytes: [UInt8])], metadata: [String: String] = [:]) -> [UInt8] {
        var entries: [String] = []
        if !metadata.isEmpty {
            entries.append("\"__metadata__\":{" + metadata.keys.sorted().map { "\"\($0)\":\"\(metadata[$0]!)\"" }.joined(separator: ",") + "}")
        }
        var offset = 0
        var data: [UInt8] = []
        for t in tensors {
            entries.append("\"\(t.name)\":{\"dtype\":\"\(t.dtype)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + t.bytes.count)]}")
            offset += t.bytes.count
            data += t.bytes
        }
        let header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        return withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init) + header + data
    }
}
