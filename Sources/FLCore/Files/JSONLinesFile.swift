#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// A file of JSON lines that only grows (logs, the metrics log, the audit log, the round journal):
/// the one way SwiftFL appends them, and reads them back.
///
/// Crash safety, the strongest any of them had, for all:
/// - the file is opened with `O_APPEND`, so every write lands at the end even when another process
///   (a second aggregator by mistake, a log shipper rotating it) writes too;
/// - each `append` is one `write` of whole lines, under a lock, so lines from concurrent callers
///   never interleave;
/// - each `append` is followed by `fsync`: once it returns, the lines survive a crash of the process
///   or the machine (the audit trail and the round journal need that; the rest get it too).
///
/// A crash during the write itself can leave a last line without its newline. `lines(in:)` drops
/// that torn line and keeps every complete one, so readers never see half a record.
public final class JSONLinesFile: Sendable {
    /// The file appended to.
    public let path: String
    private let descriptor: Mutex<Int32>

    /// Opens `path` for appending, creating it (with `permissions`) and its folder if needed;
    /// `operation` names the opening in a `FileError` (e.g. "open the audit log").
    public init(path: String, permissions: mode_t = 0o644, operation: String = "open") throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, permissions)
        guard fd >= 0 else { throw FileError(path: path, operation: operation, errno: errno) }
        self.path = path
        descriptor = Mutex(fd)
    }

    deinit { descriptor.withLock { _ = close($0) } }

    /// Appends `lines` (each one line of JSON, without its newline), in order, with one write, and
    /// syncs them to disk.
    public func append(lines: [String]) throws {
        guard !lines.isEmpty else { return }
        var bytes: [UInt8] = []
        for line in lines {
            bytes += line.utf8
            bytes.append(0x0A)
        }
        try descriptor.withLock { fd in
            try bytes.withUnsafeBytes { try FileDescriptorIO.writeAll(fd, $0, path: path) }
            guard fsync(fd) == 0 else { throw FileError(path: path, operation: "fsync", errno: errno) }
        }
    }

    /// Appends `values`, each as `JSONCoding.line` writes it.
    public func append<Value: Encodable>(_ values: [Value]) throws {
        try append(lines: values.map { try JSONCoding.line($0) })
    }

    /// The complete lines of the file at `path`, in order, empty ones skipped; a last line without
    /// its newline (a write cut short by a crash, perhaps inside a UTF-8 sequence) is dropped.
    public static func lines(in path: String) throws -> [String] { try contents(of: path).lines }

    /// The complete lines of the file at `path` as `lines(in:)` reads them, whether a torn last line
    /// was dropped, and the file's size in bytes. A writer that goes on appending must know of a torn
    /// line: its next line would otherwise be glued to the torn piece.
    public static func contents(of path: String) throws -> (lines: [String], torn: Bool, size: Int) {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        // The piece after the last newline: empty for a whole file, a torn line otherwise.
        let tail = lines.removeLast()
        return (lines.filter { !$0.isEmpty }.map { String(decoding: $0, as: UTF8.self) }, !tail.isEmpty, bytes.count)
    }
}
