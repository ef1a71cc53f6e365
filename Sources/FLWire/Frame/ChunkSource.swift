#if canImport(Glibc)
import Glibc
#endif
import FLCore

/// Bytes to be streamed after a message, handed out a piece at a time so the sender never needs
/// a second copy of a model: a model's own buffer, a file read through one reusable chunk, or a generator.
public protocol ChunkSource: Sendable {
    /// Total bytes in the stream.
    var byteCount: Int { get }
    /// Calls `body` with the bytes at `offset..<offset+count` (within `byteCount`).
    func withBytes(offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws
}

/// Streams a float32 buffer (a whole model) straight from its storage.
public struct FloatBufferSource: ChunkSource {
    public let values: [Float]
    public init(_ values: [Float]) { self.values = values }
    public init(_ model: ModelState) { self.values = model.values }
    public var byteCount: Int { values.count * 4 }
    public func withBytes(offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try values.withUnsafeBytes { raw in try body(UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + count)])) }
    }
}

/// Streams the bytes of a file region through a buffer of one chunk; memory stays one chunk
/// whatever the file size.
public final class FileRegionSource: ChunkSource, @unchecked Sendable {
    private let fd: Int32
    private let start: Int
    public let byteCount: Int
    private let path: String
    // Used by one sending thread at a time; the stream writer never calls withBytes concurrently.
    private var buffer: [UInt8] = []

    /// Opens `path` and streams `count` bytes from `offset` (the rest of the file when nil).
    public init(path: String, offset: Int = 0, count: Int? = nil) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(path: path, operation: "open", errno: errno) }
        var st = stat()
        fstat(fd, &st)
        self.fd = fd
        self.start = offset
        self.byteCount = count ?? max(0, Int(st.st_size) - offset)
        self.path = path
    }

    /// Streams the whole file open on `descriptor`, which the source now owns (closes when done):
    /// for files opened with care (without following links) by the caller. `path` names it in errors.
    public init(descriptor: Int32, path: String) {
        var st = stat()
        fstat(descriptor, &st)
        self.fd = descriptor
        self.start = 0
        self.byteCount = max(0, Int(st.st_size))
        self.path = path
    }

    deinit { close(fd) }

    public func withBytes(offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        if buffer.count < count { buffer = [UInt8](repeating: 0, count: count) }
        try buffer.withUnsafeMutableBytes { raw in
            var done = 0
            while done < count {
                let n = pread(fd, raw.baseAddress! + done, count - done, off_t(start + offset + done))
                if n < 0 && errno == EINTR { continue }
                if n < 0 { throw FileError(path: path, operation: "read", errno: errno) }
                if n == 0 { throw FileError(path: path, operation: "read", reason: "file shorter than expected") }
                done += n
            }
            try body(UnsafeRawBufferPointer(rebasing: raw[0..<count]))
        }
    }
}
