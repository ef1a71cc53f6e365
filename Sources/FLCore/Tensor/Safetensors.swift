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

    /// Reads a model from an open descriptor positioned at the file's start (the caller keeps it
    /// open: it may have been opened without following links); `path` names it in errors.
    public static func read(descriptor fd: Int32, path: String) throws -> (model: ModelState, metadata: [String: String]) {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SafetensorsError(path: path, reason: String(cString: strerror(errno))) }
        let fileSize = Int(st.st_size)
        do {
            var lengthBytes = [UInt8](repeating: 0, count: 8)
            guard fileSize >= 8 else { throw SafetensorsError(path: path, reason: "file is \(fileSize) bytes, shorter than the 8-byte header length") }
            try lengthBytes.withUnsafeMutableBytes {  raw in try FileDescriptorIO.readExactly(fd, into: raw, path: path) }
            let headerLength = lengthBytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
            guard headerLength <= UInt64(maximumHeaderSize), Int(headerLength) <= fileSize - 8 else {
                throw SafetensorsError(path: path, reason: "header length \(headerLength) exceeds the file size or the \(maximumHeaderSize)-byte limit")
            }
            var headerBytes = [UInt8](repeating: 0, count: Int(headerLength))
            try headerBytes.withUnsafeMutableBytes {  raw in try FileDescriptorIO.readExactly(fd, into: raw, path: path) }
            let (layout, metadata) = try parseHeader(headerBytes, dataSize: fileSize - 8 - Int(headerLength), path: path)
            let values = try [Float](unsafeUninitializedCapacity: layout.count) { (buffer, initialized) throws in
                try FileDescriptorIO.readExactly(fd, into: UnsafeMutableRawBufferPointer(buffer), path: path)
                initialized = layout.count
            }
            #if _endian(big)
            let fixed = values.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) }
            return (ModelState(layout: layout, values: fixed), metadata)
            #else
            return (ModelState(layout: layout, values: values), metadata)
            #endif
        } catch let error as SafetensorsError {
            throw error
        } catch {
            throw SafetensorsError(path: path, reason: "\(error)")
        }
    }

    /// Decodes a model from safetensors bytes held in memory.
    public static func decode(_ data: Data, source: String = "<memory>") throws -> (model: ModelState, metadata: [String: String]) {
        guard data.count >= 8 else { throw SafetensorsError(path: source, reason: "\(data.count) bytes, shorter than the 8-byte header length") }
        let bytes = [UInt8](data)
        let headerLength = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(maximumHeaderSize), Int(headerLength) <= bytes.count - 8 else {
            throw SafetensorsError(path: source, reason: "header length \(headerLength) exceeds the data size or the \(maximumHeaderSize)-byte limit")
        }
        let h = Int(headerLength)
        let (layout, metadata) = try parseHeader(Array(bytes[8..<(8 + h)]), dataSize: bytes.count - 8 - h, path: source)
        let values = bytes.withUnsafeBytes { raw in
            [Float](unsafeUninitializedCapacity: layout.count) { buffer, n in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[(8 + h)...]))
                n = layout.count
            }
        }
        return (ModelState(layout: layout, values: values), metadata)
    }

    /// Parses and checks a header: every entry is an F32 tensor whose byte range matches its shape,
    /// and the ranges tile the data section exactly, with no gap or overlap.
    static func parseHeader(_ bytes: [UInt8], dataSize: Int, path: String) throws -> (ModelLayout, [String: String]) {
        func fail(_ reason: String) -> SafetensorsError { SafetensorsError(path: path, reason: reason) }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: Data(bytes)) } catch { throw fail("header is not valid JSON") }
        guard let root = object as? [String: Any] else { throw fail("header is not a JSON object") }
        var metadata: [String: String] = [:]
        var entries: [(spec: TensorSpec, begin: Int, end: Int)] = []
        for (name, value) in root {
            if name == "__metadata__" {
                guard let meta = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (k, v) in meta {
                    guard let s = v as? String else { throw fail("__metadata__.\(k) is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let info = value as? [String: Any] else { throw fail("entry '\(name)' is not an object") }
            guard let dtypeName = info["dtype"] as? String else { throw fail("tensor '\(name)' has no dtype") }
            guard let dtype = DType(rawValue: dtypeName) else { throw fail("tensor '\(name)' has unknown dtype '\(dtypeName)'") }
            guard dtype == .float32 else {
                throw fail("tensor '\(name)' has dtype \(dtypeName); SwiftFL models are F32 (convert with `fx model convert`)")
            }
            guard let shapeAny = info["shape"] as? [Any] else { throw fail("tensor '\(name)' has no shape list") }
            var shape: [Int] = []
            for d in shapeAny {
                guard let n = d as? NSNumber, n.doubleValue == Double(n.int64Value), n.int64Value >= 0 else {
                    throw fail("tensor '\(name)' has a shape entry that is not a non-negative integer")
                }
                shape.append(Int(n.int64Value))
            }
            guard let offsets = info["data_offsets"] as? [Any], offsets.count == 2,
                  let b = offsets[0] as? NSNumber, let e = offsets[1] as? NSNumber,
                  b.int64Value >= 0, e.int64Value >= b.int64Value else {
                throw fail("tensor '\(name)' has invalid data_offsets (expected [begin, end] with begin <= end)")
            }
            entries.append((TensorSpec(name: name, shape: shape), Int(b.int64Value), Int(e.int64Value)))
        }
        // By end too: an empty tensor shares its offset with the tensor after it and must come first.
        entries.sort { ($0.begin, $0.end, $0.spec.name) < ($1.begin, $1.end, $1.spec.name) }
        let layout: ModelLayout
        do { layout = try ModelLayout(entries.map(\.spec)) } catch let error as ModelLayoutError { throw fail(error.reason) }
        var expected = 0
        for (i, entry) in entries.enumerated() {
            guard entry.begin == expected else {
                throw fail("tensor '\(entry.spec.name)' starts at byte \(entry.begin), expected \(expected) (gap or overlap)")
            }
            let bytes = layout.tensors[i].count * 4
            guard entry.end - entry.begin == bytes else {
                throw fail("tensor '\(entry.spec.name)' spans \(entry.end - entry.begin) bytes but shape \(TensorSpec.format(entry.spec.shape)) needs \(bytes)")
            }
            expected = entry.end
        }
        guard expected == dataSize else { throw fail("tensors cover \(expected) bytes but the data section has \(dataSize)") }
        return (layout, metadata)
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
