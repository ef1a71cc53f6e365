#if canImport(Glibc)
import Glibc
#endif
import Foundation

extension Safetensors {
    /// Reads the model at `path` into `layout`: every tensor of the layout must be in the file, by
    /// name, with the same shape and dtype F32, and the file must hold nothing else. The file's tensor
    /// order does not matter (Python's `safetensors` sorts tensors by dtype and name); when it is the
    /// layout's order the data section is read with one call straight into the model's buffer.
    ///
    /// - Throws: `SafetensorsError` naming the file and the first tensor that does not fit.
    public static func read(_ path: String, matching layout: ModelLayout) throws -> (model: ModelState, metadata: [String: String]) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw SafetensorsError(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        let header = try SafetensorsHeader.read(fd: fd, path: path)
        let placed = try place(header, into: layout, requireFloat32: true)
        let inOrder = placed.enumerated().allSatisfy { $0.offset == $0.element.index }
        let values = try [Float](unsafeUninitializedCapacity: layout.count) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            if inOrder {
                try SafetensorsHeader.pread(fd, into: raw, at: header.dataOffset, path: path)
            } else {
                for (entry, index) in placed {
                    let range = layout.range(at: index)
                    try SafetensorsHeader.pread(fd, into: UnsafeMutableRawBufferPointer(rebasing: raw[(range.lowerBound * 4)..<(range.upperBound * 4)]),
                                                at: header.dataOffset + entry.byteRange.lowerBound, path: path)
                }
            }
            initialized = layout.count
        }
        return (ModelState(layout: layout, values: littleEndianFloats(values)), header.metadata)
    }

    /// Reads every tensor of the file at `path`, whatever its dtype (F64, F16, BF16, integers,
    /// booleans), converted to float32 with IEEE round-to-nearest-even, as numpy's `astype(float32)`
    /// does. Tensors are in the file's data order, or in `layout`'s order (matched by name and shape)
    /// when one is given. Conversion can overflow F64 values to infinity: callers check `isFinite`.
    ///
    /// - Returns: the model, the metadata, and each tensor's original dtype by name.
    public static func readConverting(_ path: String, matching layout: ModelLayout? = nil) throws
        -> (model: ModelState, metadata: [String: String], sourceTypes: [String: DType]) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw SafetensorsError(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        let header = try SafetensorsHeader.read(fd: fd, path: path)
        let target: ModelLayout
        if let layout {
            target = layout
        } else {
            do { target = try ModelLayout(header.entries.map { TensorSpec(name: $0.spec.name, shape: $0.spec.shape) }) } catch let error as ModelLayoutError {
                throw SafetensorsError(path: path, reason: error.reason)
            }
        }
        let placed = try place(header, into: target, requireFloat32: false)
        var values = [Float](repeating: 0, count: target.count)
        var scratch: [UInt8] = []
        try values.withUnsafeMutableBufferPointer { out in
            for (entry, index) in placed {
                let range = target.range(at: index)
                let slot = UnsafeMutableBufferPointer(rebasing: out[range])
                if entry.spec.dtype == .float32 {
                    try SafetensorsHeader.pread(fd, into: UnsafeMutableRawBufferPointer(slot), at: header.dataOffset + entry.byteRange.lowerBound, path: path)
                    #if _endian(big)
                    for i in 0..<slot.count { slot[i] = Float(bitPattern: UInt32(littleEndian: slot[i].bitPattern)) }
                    #endif
                    continue
                }
                scratch = [UInt8](repeating: 0, count: entry.byteRange.count)
                try scratch.withUnsafeMutableBytes { try SafetensorsHeader.pread(fd, into: $0, at: header.dataOffset + entry.byteRange.lowerBound, path: path) }
                scratch.withUnsafeBytes { convert($0, from: entry.spec.dtype, into: slot) }
            }
        }
        let types = Dictionary(uniqueKeysWithValues: header.entries.map { ($0.spec.name, $0.spec.dtype) })
        return (ModelState(layout: target, values: values), header.metadata, types)
    }

    /// Writes `model` to `path` without the fsync and rename of `write(_:to:metadata:)`: for scratch
    /// files that another process reads at once and nobody needs after a crash (an external task's
    /// input), where syncing a large model to disk would dominate the task's overhead.
    public static func writeScratch(_ model: ModelState, to path: String, metadata: [String: String] = [:]) throws {
        let head = header(for: model.layout, metadata: metadata)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw FileError(path: path, operation: "create", errno: errno) }
        defer { close(fd) }
        try head.withUnsafeBytes { try FileDescriptorIO.writeAll(fd, $0, path: path) }
        #if _endian(big)
        let values = model.values.map { Float(bitPattern: $0.bitPattern.littleEndian) }
        #else
        let values = model.values
        #endif
        try values.withUnsafeBytes { try FileDescriptorIO.writeAll(fd, $0, path: path) }
    }

    /// Matches the file's tensors to `layout` by name: each entry with the layout index it fills.
    private static func place(_ header: SafetensorsHeader, into layout: ModelLayout, requireFloat32: Bool) throws -> [(entry: SafetensorsHeader.Entry, index: Int)] {
        func fail(_ reason: String) -> SafetensorsError { SafetensorsError(path: header.path, reason: reason) }
        var placed: [(entry: SafetensorsHeader.Entry, index: Int)] = []
        placed.reserveCapacity(header.entries.count)
        var filled = [Bool](repeating: false, count: layout.tensors.count)
        for entry in header.entries {
            guard let index = layout.index(of: entry.spec.name) else {
                throw fail("unexpected tensor '\(entry.spec.name)' (the model has \(layout.tensors.map(\.name).joined(separator: ", ")))")
            }
            let expected = layout.tensors[index]
            guard entry.spec.shape == expected.shape else {
                throw fail("tensor '\(entry.spec.name)' has shape \(TensorSpec.format(entry.spec.shape)), expected \(TensorSpec.format(expected.shape))")
            }
            if requireFloat32 && entry.spec.dtype != .float32 {
                throw fail("tensor '\(entry.spec.name)' has dtype \(entry.spec.dtype.rawValue), expected F32 (write float32, or convert with `fx model convert`)")
            }
            filled[index] = true
            placed.append((entry, index))
        }
        if let missing = filled.firstIndex(of: false) { throw fail("tensor '\(layout.tensors[missing].name)' is missing") }
        return placed
    }

    /// The floats as read from a little-endian file, in this machine's byte order.
    static func littleEndianFloats(_ values: [Float]) -> [Float] {
        #if _endian(big)
        return values.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) }
        #else
        return values
        #endif
    }

    /// Converts little-endian elements of `dtype` to float32.
    static func convert(_ raw: UnsafeRawBufferPointer, from dtype: DType, into out: UnsafeMutableBufferPointer<Float>) {
        func each<T: FixedWidthInteger>(_: T.Type, _ body: (T) -> Float) {
            for i in 0..<out.count { out[i] = body(T(littleEndian: raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self))) }
        }
        switch dtype {
        case .float32: each(UInt32.self) { Float(bitPattern: $0) }
        case .float64: each(UInt64.self) { Float(Double(bitPattern: $0)) }
        case .float16: each(UInt16.self) { Float(Float16(bitPattern: $0)) }
        case .bfloat16: each(UInt16.self) { Float(bitPattern: UInt32($0) << 16) }
        case .int64: each(Int64.self) { Float($0) }
        case .int32: each(Int32.self) { Float($0) }
        case .int16: each(Int16.self) { Float($0) }
        case .int8: each(Int8.self) { Float($0) }
        case .uint64: each(UInt64.self) { Float($0) }
        case .uint32: each(UInt32.self) { Float($0) }
        case .uint16: each(UInt16.self) { Float($0) }
        case .uint8: each(UInt8.self) { Float($0) }
        case .bool: each(UInt8.self) { $0 == 0 ? 0 : 1 }
        }
    }
}
