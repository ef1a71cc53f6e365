#if canImport(Glibc)
import Glibc
#endif

extension SafetensorsHeader {
    /// The values of the tensor called `name` in the file this header was read from, converted to
    /// float32 as `Safetensors.readConverting` converts them; nil when the file has no such tensor.
    /// Reads only that tensor's bytes, so a few small tensors of a large checkpoint cost nothing.
    /// - Throws: `SafetensorsError` when the file cannot be read (or changed since its header was read).
    public func values(of name: String) throws -> [Float]? {
        guard let entry = entry(named: name) else { return nil }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw SafetensorsError(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var raw = [UInt8](repeating: 0, count: entry.byteRange.count)
        try raw.withUnsafeMutableBytes { try SafetensorsHeader.pread(fd, into: $0, at: dataOffset + entry.byteRange.lowerBound, path: path) }
        var values = [Float](repeating: 0, count: entry.spec.count)
        raw.withUnsafeBytes { bytes in values.withUnsafeMutableBufferPointer { Safetensors.convert(bytes, from: entry.spec.dtype, into: $0) } }
        return values
    }
}
