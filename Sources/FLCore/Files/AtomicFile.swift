#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation

/// Writes files so that a crash leaves either the old file or the new one, never part of one:
/// the bytes go to `name.tmp.<pid>`, are flushed with `fsync`, then renamed over `name`, and the
/// directory is synced so the rename itself survives a power loss.
public enum AtomicFile {
    /// Writes `data` to `path` atomically with the given permissions.
    public static func write(_ data: some DataProtocol, to path: String, permissions: mode_t = 0o644) throws {
        try write(to: path, permissions: permissions) { fd in
            try FileDescriptorIO.writeAll(fd, data, path: path)
        }
    }

    /// Writes a string as UTF-8 to `path` atomically.
    public static func write(string: String, to path: String, permissions: mode_t = 0o644) throws {
        try write(Data(string.utf8), to: path, permissions: permissions)
    }

    /// Opens a temporary file beside `path`, lets `body` write to its descriptor, then syncs and renames.
    /// On any error the temporary file is removed and `path` is left untouched.
    public static func write(to path: String, permissions: mode_t = 0o644, _ body: (Int32) throws -> Void) throws {
        let tmp = "\(path).tmp.\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, permissions)
        if fd < 0 { throw FileError(path: tmp, operation: "create", errno: errno) }
        do {
            // fchmod so the umask cannot widen or narrow what the caller asked for (keys must be 0600).
            if fchmod(fd, permissions) != 0 { throw FileError(path: tmp, operation: "chmod", errno: errno) }
            try body(fd)
            if fsync(fd) != 0 { throw FileError(path: tmp, operation: "fsync", errno: errno) }
            if close(fd) != 0 { throw FileError(path: tmp, operation: "close", errno: errno) }
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        if rename(tmp, path) != 0 {
            let e = errno
            unlink(tmp)
            throw FileError(path: path, operation: "rename into place", errno: e)
        }
        syncDirectory(of: path)
    }

    /// Makes `path` name the same file as `source` (a hard link, placed atomically), or, where a link
    /// is impossible (another file system), an atomic copy of it. Either way `path` is never half written,
    /// and no temporary name is left behind.
    public static func link(_ source: String, to path: String) throws {
        // Already the same file (e.g. `last` linked again to the checkpoint it names): nothing to do.
        // This must be checked, not left to rename: rename(2) between two links to one inode succeeds
        // without doing anything and would leave the temporary link in place.
        if sameFile(source, path) { return }
        let tmp = "\(path).tmp.\(getpid())"
        unlink(tmp)
        if Glibc.link(source, tmp) == 0 {
            if rename(tmp, path) != 0 {
                let e = errno
                unlink(tmp)
                throw FileError(path: path, operation: "rename into place", errno: e)
            }
            // Normally gone with the rename; still there if `path` became a link to `source` meanwhile.
            unlink(tmp)
            syncDirectory(of: path)
            return
        }
        let input = open(source, O_RDONLY | O_CLOEXEC)
        if input < 0 { throw FileError(path: source, operation: "open", errno: errno) }
        defer { close(input) }
        try copy(from: input, sourcePath: source, to: path)
    }

    /// Writes a copy of everything readable from `input` (from its current offset to its end) to
    /// `path` atomically; `sourcePath` names the source in errors. The caller keeps `input` open.
    public static func copy(from input: Int32, sourcePath: String, to path: String, permissions: mode_t = 0o644) throws {
        try write(to: path, permissions: permissions) { output in
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
                if n < 0 { if errno == EINTR { continue }; throw FileError(path: sourcePath, operation: "read", errno: errno) }
                if n == 0 { break }
                try buffer.withUnsafeBytes { try FileDescriptorIO.writeAll(output, UnsafeRawBufferPointer(rebasing: $0[0..<n]), path: path) }
            }
        }
    }

    /// Whether both paths exist and name the same inode.
    private static func sameFile(_ a: String, _ b: String) -> Bool {
        var sa = stat(), sb = stat()
        guard stat(a, &sa) == 0, stat(b, &sb) == 0 else { return false }
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
    }

    private static func syncDirectory(of path: String) {
        let dir = (path as NSString).deletingLastPathComponent
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }
}

/// Small helpers over POSIX file descriptors that retry on EINTR and short writes.
public enum FileDescriptorIO {
    /// Writes every byte of `data`.
    public static func writeAll(_ fd: Int32, _ data: some DataProtocol, path: String) throws {
        for region in data.regions {
            try region.withUnsafeBytes { raw in try writeAll(fd, raw, path: path) }
        }
    }

    /// Writes every byte of `buffer`.
    public static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, path: String) throws {
        guard var p = buffer.baseAddress else { return }
        var left = buffer.count
        while left > 0 {
            let n = Glibc.write(fd, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(path: path, operation: "write", errno: errno)
            }
            p += n
            left -= n
        }
    }

    /// Fills `buffer` completely; throws if the file ends first.
    public static func readExactly(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String) throws {
        guard var p = buffer.baseAddress else { return }
        var left = buffer.count
        while left > 0 {
            let n = Glibc.read(fd, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(path: path, operation: "read", errno: errno)
            }
            if n == 0 { throw FileError(path: path, operation: "read", reason: "file ends \(left) bytes early") }
            p += n
            left -= n
        }
    }
}

/// A file operation that failed, with the path and the system's reason.
public struct FileError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var operation: String
    public var reason: String

    public init(path: String, operation: String, reason: String) {
        self.path = path
        self.operation = operation
        self.reason = reason
    }

    public init(path: String, operation: String, errno code: Int32) {
        self.init(path: path, operation: operation, reason: String(cString: strerror(code)))
    }

    public var description: String { "\(path): cannot \(operation): \(reason)" }
}
