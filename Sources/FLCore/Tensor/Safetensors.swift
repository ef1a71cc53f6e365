#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Reads and writes models in the safetensors format (https://github.com/huggingface/safetensors):
/// an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape and byte
/// range, then the raw little-endian data. SwiftFL's flat layout is exactly that data section, so a
/// model is written with one header and one buffer write, and read straight into its final buffer.
public enum Safetensors {
    /// Headers larger than this are refused before they are read (the reference implementation uses 100 MB).
    public static let maximumHeaderSize = 100_000_000

    /// Encodes the header for `layout`, padded with spaces to a multiple of 8 bytes as the reference writer does.
    public static func header(for layout: ModelLayout, metadata: [String: String] = [:]) -> [UInt8] {
        var json = "{"
        var first = true
        if !metadata.isEmpty {
            json += "\"__metadata__\":{"
            json += metadata.keys.sorted().map { "\(JSONText.string($0)):\(JSONText.string(metadata[$0]!))" }.joined(separator: ",")
            json += "}"
            first = false
        }
        for (i, spec) in layout.tensors.enumerated() {
            if !first { json += "," }
            first = false
            let begin = layout.offsets[i] * 4, end = begin + spec.count * 4
            json += "\(JSONText.string(spec.name)):{\"dtype\":\"F32\",\"shape\":[\(spec.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(begin),\(end)]}"
        }
        json += "}"
        var bytes = Array(json.utf8)
        while bytes.count % 8 != 0 { bytes.append(0x20) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + bytes.count)
        withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: bytes)
        return out
    }

    /// Encodes a whole model as safetensors bytes.
    public static func encode(_ model: ModelState, metadata: [String: String] = [:]) -> Data {
        var data = Data(header(for: model.layout, metadata: metadata))
        model.values.withUnsafeBytes { data.append(contentsOf: $0) }
        return data
    }

    /// Writes `model` to `path` atomically.
    public static func write(_ model: ModelState, to path: String, metadata: [String: String] = [:]) throws {
        let head = header(for: model.layout, metadata: metadata)
        try AtomicFile.write(to: path) { fd in
            try head.withUnsafeBytes {  raw in try FileDescriptorIO.writeAll(fd, raw, path: path) }
            try model.values.withUnsafeBytes {  raw in try FileDescriptorIO.writeAll(fd, raw, path: path) }
        }
    }

    /// Reads a model from `path`.
    public static func read(_ path: String) throws -> (model: ModelState, metadata: [String: String]) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw SafetensorsError(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        return try read(descriptor: fd, path: path)
    }

    /// Reads a model from an open descriptor (the caller keeps it open: it may have been opened
    /// without following links); `path` names it in errors. The header is checked by
    /// `SafetensorsHeader.parse`, the one header parser; the model rule is `SafetensorsHeader.modelLayout()`.
    public static func read(descriptor fd: Int32, path: String) throws -> (model: ModelState, metadata: [String: String]) {
        let header = try SafetensorsHeader.read(fd: fd, path: path)
        let layout = try header.modelLayout()
        let values = try [Float](unsafeUninitializedCapacity: layout.count) { (buffer, initialized) throws in
            try SafetensorsHeader.pread(fd, into: UnsafeMutableRawBufferPointer(buffer), at: header.dataOffset, path: path)
            initialized = layout.count
        }
        return (ModelState(layout: layout, values: littleEndianFloats(values)), header.metadata)
    }

    /// Decodes a model from safetensors bytes held in memory, checked as `read` checks a file.
    public static func decode(_ data: Data, source: String = "<memory>") throws -> (model: ModelState, metadata: [String: String]) {
        let bytes = [UInt8](data)
        let header = try SafetensorsHeader.decode(bytes, path: source)
        let layout = try header.modelLayout()
        let values = bytes.withUnsafeBytes { raw in
            [Float](unsafeUninitializedCapacity: layout.count) { buffer, n in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[header.dataOffset...]))
                n = layout.count
            }
        }
        return (ModelState(layout: layout, values: littleEndianFloats(values)), header.metadata)
    }
}

/// A safetensors file that cannot be read, with the file and the reason.
public struct SafetensorsError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { "\(path): not a usable safetensors model: \(reason)" }
}
