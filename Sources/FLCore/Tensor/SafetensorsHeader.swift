#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The header of a safetensors file, whatever its tensors' dtypes: each tensor's name, dtype, shape
/// and bytes, and the metadata.
///
/// Every safetensors reader in SwiftFL checks its header here. `Safetensors.read` is the fast path
/// for SwiftFL's own files (F32, in buffer order); this type alone serves files written elsewhere (PyTorch, numpy, an external task runner's command): it reads only
/// the first `8 + headerLength` bytes, so inspecting a large checkpoint costs nothing, and it is
/// checked as strictly as the reference implementation checks: known dtypes, byte ranges that match
/// the shapes and tile the data section with no gap or overlap, no duplicate names.
public struct SafetensorsHeader: Sendable, Equatable {
    /// One tensor of the file.
    public struct Entry: Sendable, Hashable {
        public var spec: TensorSpec
        /// Where the tensor's bytes are, relative to the start of the data section.
        public var byteRange: Range<Int>
    }

    /// The file the header was read from (named in errors).
    public let path: String
    /// The tensors in the order of their data.
    public let entries: [Entry]
    public let metadata: [String: String]
    /// Length of the JSON header in bytes, padding included.
    public let headerLength: Int
    /// Length of the data section in bytes.
    public let dataSize: Int

    /// File offset of the data section.
    public var dataOffset: Int { 8 + headerLength }

    /// Elements in all tensors.
    public var parameterCount: Int { entries.reduce(0) { $0 + $1.spec.count } }

    /// The entry called `name`, if any.
    public func entry(named name: String) -> Entry? { entries.first { $0.spec.name == name } }

    /// Reads and checks the header of the file at `path`.
    public static func read(_ path: String) throws -> SafetensorsHeader {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw SafetensorsError(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        return try read(fd: fd, path: path)
    }

    /// Reads and checks the header from an open descriptor positioned anywhere (it uses `pread`);
    /// `path` names the file in errors.
    public static func read(descriptor fd: Int32, path: String) throws -> SafetensorsHeader {
        try read(fd: fd, path: path)
    }

    static func read(fd: Int32, path: String) throws -> SafetensorsHeader {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SafetensorsError(path: path, reason: String(cString: strerror(errno))) }
        let fileSize = Int(st.st_size)
        var lengthBytes = [UInt8](repeating: 0, count: min(8, max(fileSize, 0)))
        try lengthBytes.withUnsafeMutableBytes { try SafetensorsHeader.pread(fd, into: $0, at: 0, path: path) }
        let headerLength = try checkedHeaderLength(lengthBytes, size: fileSize, path: path)
        var headerBytes = [UInt8](repeating: 0, count: headerLength)
        try headerBytes.withUnsafeMutableBytes { try SafetensorsHeader.pread(fd, into: $0, at: 8, path: path) }
        return try parse(headerBytes, dataSize: fileSize - 8 - headerLength, path: path)
    }

    /// Reads and checks the header of safetensors bytes held in memory (the whole file); `path`
    /// names them in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws -> SafetensorsHeader {
        let headerLength = try checkedHeaderLength(bytes, size: bytes.count, path: path)
        return try parse(Array(bytes[8..<(8 + headerLength)]), dataSize: bytes.count - 8 - headerLength, path: path)
    }

    /// The header length a file of `size` bytes starting with `prefix` declares, once it is known
    /// to fit in the file and under `Safetensors.maximumHeaderSize` (checked before the header is read).
    static func checkedHeaderLength(_ prefix: [UInt8], size: Int, path: String) throws -> Int {
        guard size >= 8, prefix.count >= 8 else {
            throw SafetensorsError(path: path, reason: "file is \(size) bytes, shorter than the 8-byte header length")
        }
        let headerLength = prefix.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(Safetensors.maximumHeaderSize), Int(headerLength) <= size - 8 else {
            throw SafetensorsError(path: path, reason: "header length \(headerLength) exceeds the file size (\(size) bytes) or the \(Safetensors.maximumHeaderSize)-byte limit")
        }
        return Int(headerLength)
    }

    /// The tensors as a SwiftFL model in data order: every tensor F32 and named as `ModelLayout`
    /// requires. This is the one model rule on top of the one header rule (`parse`): the header may
    /// hold any `DType`, because `Safetensors.readConverting` and `values(of:)` read them all, but a
    /// model is float32 and other dtypes are refused here, naming `fx model convert`.
    public func modelLayout() throws -> ModelLayout {
        if let other = entries.first(where: { $0.spec.dtype != .float32 }) {
            throw SafetensorsError(path: path, reason: "tensor '\(other.spec.name)' has dtype \(other.spec.dtype.rawValue); SwiftFL models are F32 (convert with `fx model convert`)")
        }
        do { return try ModelLayout(entries.map(\.spec)) } catch let error as ModelLayoutError {
            throw SafetensorsError(path: path, reason: error.reason)
        }
    }

    /// Parses the JSON header `bytes` of a file whose data section is `dataSize` bytes long: SwiftFL's
    /// one safetensors header parser (`Safetensors.read`/`decode` and `readConverting` all use it).
    ///
    /// The rules are the strictest either former reader had: JSON as `PlanNode.parseJSON` reads it
    /// (duplicate names refused, integers exact: `2.0` is not a dimension or an offset), dtypes from
    /// `DType` (anything else refused by name), shapes whose element count fits a model, byte ranges
    /// exactly as long as their shape needs that tile the data section with no gap or overlap.
    public static func parse(_ bytes: [UInt8], dataSize: Int, path: String) throws -> SafetensorsHeader {
        func fail(_ reason: String) -> SafetensorsError { SafetensorsError(path: path, reason: reason) }
        let root: PlanNode
        do {
            root = try PlanNode.parseJSON(bytes, file: "\(path) (header)")
        } catch {
            throw fail("header is not valid JSON: \(error)")
        }
        guard let mapping = root.asMapping else { throw fail("header is not a JSON object") }
        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        for item in mapping {
            let name = item.key
            if name == "__metadata__" {
                guard let meta = item.value.asMapping else { throw fail("__metadata__ is not an object") }
                for m in meta {
                    guard let s = m.value.asString else { throw fail("__metadata__.\(m.key) is not a string") }
                    metadata[m.key] = s
                }
                continue
            }
            guard let info = item.value.asMapping else { throw fail("entry '\(name)' is not an object") }
            guard let dtypeName = info["dtype"]?.asString else { throw fail("tensor '\(name)' has no dtype") }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw fail("tensor '\(name)' has dtype '\(dtypeName)', which SwiftFL does not read (known: \(DType.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            guard let shapeItems = info["shape"]?.asSequence else { throw fail("tensor '\(name)' has no shape list") }
            var shape: [Int] = []
            var count = 1
            for d in shapeItems {
                guard let n = d.asInt, n >= 0 else { throw fail("tensor '\(name)' has a shape entry that is not a non-negative integer") }
                let (m, overflow) = count.multipliedReportingOverflow(by: n)
                guard !overflow, m <= ModelLayout.maximumCount else { throw fail("tensor '\(name)' shape \(TensorSpec.format(shape + [n])) is too large") }
                count = m
                shape.append(n)
            }
            guard let offsets = info["data_offsets"]?.asSequence, offsets.count == 2,
                  let begin = offsets[0].asInt, let end = offsets[1].asInt, begin >= 0, end >= begin else {
                throw fail("tensor '\(name)' has invalid data_offsets (expected [begin, end] with 0 <= begin <= end)")
            }
            let needed = count * dtype.size
            guard end - begin == needed else {
                throw fail("tensor '\(name)' spans \(end - begin) bytes but \(dtype.rawValue) shape \(TensorSpec.format(shape)) needs \(needed)")
            }
            entries.append(Entry(spec: TensorSpec(name: name, shape: shape, dtype: dtype), byteRange: begin..<end))
        }
        entries.sort { ($0.byteRange.lowerBound, $0.byteRange.upperBound, $0.spec.name) < ($1.byteRange.lowerBound, $1.byteRange.upperBound, $1.spec.name) }
        var expected = 0
        for entry in entries {
            guard entry.byteRange.lowerBound == expected else {
                throw fail("tensor '\(entry.spec.name)' starts at byte \(entry.byteRange.lowerBound), expected \(expected) (gap or overlap)")
            }
            expected = entry.byteRange.upperBound
        }
        guard expected == dataSize else { throw fail("tensors cover \(expected) bytes but the data section has \(dataSize)") }
        return SafetensorsHeader(path: path, entries: entries, metadata: metadata, headerLength: bytes.count, dataSize: dataSize)
    }

    /// Fills `buffer` from file offset `offset`; throws if the file ends first.
    static func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int, path: String) throws {
        guard var p = buffer.baseAddress else { return }
        var left = buffer.count
        var position = off_t(offset)
        while left > 0 {
            let n = Glibc.pread(fd, p, left, position)
            if n < 0 {
                if errno == EINTR { continue }
                throw SafetensorsError(path: path, reason: "read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { throw SafetensorsError(path: path, reason: "file ends \(left) bytes early") }
            p += n
            left -= n
            position += off_t(n)
        }
    }
}
