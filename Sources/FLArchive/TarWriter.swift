#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import FLCore
import FLPKI

/// Writes POSIX ustar archives, with PAX extended headers (`x`) for what ustar cannot hold:
/// paths longer than its name/prefix fields, non-ASCII names, long link targets, sizes of 8 GiB
/// and more.
///
/// Output is deterministic: uid/gid 0, empty user and group names, the caller's modification time,
/// modes reduced to 0644/0755 (directories 0755, symbolic links 0777). The Director and Envoys
/// approve workspaces by the archive's SHA-256, so the same tree must give the same bytes.
/// The archive ends with two zero blocks and is not padded to a 10 KiB record (GNU tar, bsdtar
/// and Python read it as is).
///
/// File contents stream through a fixed 64 KiB buffer. Paths are checked with the extractor's
/// rules, so the writer never produces an archive `ArchiveExtractor` would refuse.
///
/// One writer writes one archive from one thread.
public final class TarWriter {
    /// What was written.
    public struct Summary: Sendable, Hashable {
        /// Entries written (PAX headers not counted).
        public var entryCount: Int
        /// Size of the archive in bytes.
        public var byteCount: Int64
        /// SHA-256 of the archive's bytes, lowercase hex.
        public var sha256: String
    }

    /// What `archive(directory:…)` does with symbolic links in the tree.
    public enum SymlinkPolicy: Sendable, Hashable {
        /// Leave them out (what `fx workspace export` does).
        case skip
        /// Store them as links; a target that is absolute or climbs out of the tree is an error.
        case store
    }

    private let archiveName: String
    private let output: (UnsafeRawBufferPointer) throws -> Void
    private let buffer: UnsafeMutableRawBufferPointer
    private var buffered = 0
    private var hasher = SHA256()
    private var entryCount = 0
    private var byteCount: Int64 = 0
    private var finished = false

    private static let bufferSize = 64 << 10

    /// A writer that hands each filled buffer to `output`. `name` labels errors.
    public init(name: String, output: @escaping (UnsafeRawBufferPointer) throws -> Void) {
        self.archiveName = name
        self.output = output
        self.buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: TarWriter.bufferSize, alignment: 16)
    }

    /// A writer that writes to an open file descriptor (not closed by the writer).
    public convenience init(fileDescriptor fd: Int32, path: String) {
        self.init(name: path) { bytes in try FileDescriptorIO.writeAll(fd, bytes, path: path) }
    }

    deinit { buffer.deallocate() }

    // MARK: Entries

    /// Adds a directory entry (stored as `path/`, mode 0755).
    public func addDirectory(_ path: String, modificationTime: Int) throws {
        let name = try checkedPath(path)
        try writeHeader(type: UInt8(ascii: "5"), path: name + [UInt8(ascii: "/")], displayPath: path, link: [],
                        size: 0, mode: 0o755, modificationTime: modificationTime)
        entryCount += 1
    }

    /// Adds a regular file whose `size` bytes are read from `fd` (from its current offset).
    /// Fails if the descriptor ends early or has more bytes than `size`.
    public func addFile(_ path: String, executable: Bool, modificationTime: Int, size: Int64, contentsOf fd: Int32) throws {
        let name = try checkedPath(path)
        guard size >= 0 else { throw error(path, .fileChanged(expected: size)) }
        try writeHeader(type: UInt8(ascii: "0"), path: name, displayPath: path, link: [], size: size,
                        mode: executable ? 0o755 : 0o644, modificationTime: modificationTime)
        var left = size
        while left > 0 {
            if buffered == buffer.count { try flush() }
            let want = min(Int64(buffer.count - buffered), left)
            let n = read(fd, buffer.baseAddress! + buffered, Int(want))
            if n < 0 {
                if errno == EINTR { continue }
                throw error(path, .fileSystem("read: \(String(cString: strerror(errno)))"))
            }
            if n == 0 { throw error(path, .fileChanged(expected: size)) }
            buffered += n
            left -= Int64(n)
        }
        var extra: UInt8 = 0
        var n: Int
        repeat { n = read(fd, &extra, 1) } while n < 0 && errno == EINTR
        if n != 0 { throw error(path, .fileChanged(expected: size)) }
        try pad(size)
        entryCount += 1
    }

    /// Adds a regular file holding `contents`.
    public func addFile(_ path: String, executable: Bool = false, modificationTime: Int, contents: some DataProtocol) throws {
        let name = try checkedPath(path)
        try writeHeader(type: UInt8(ascii: "0"), path: name, displayPath: path, link: [], size: Int64(contents.count),
                        mode: executable ? 0o755 : 0o644, modificationTime: modificationTime)
        for region in contents.regions {
            try region.withUnsafeBytes { try append($0) }
        }
        try pad(Int64(contents.count))
        entryCount += 1
    }

    /// Adds a symbolic link to `target`, which must be relative and stay inside the archive's tree.
    public func addSymlink(_ path: String, target: String, modificationTime: Int) throws {
        let components = try checkedComponents(path)
        do {
            try ArchivePath.checkSymlinkTarget(Array(target.utf8), linkDepth: components.count - 1)
        } catch {
            throw self.error(path, error.rule)
        }
        try writeHeader(type: UInt8(ascii: "2"), path: ArchivePath.join(components), displayPath: path,
                        link: Array(target.utf8), size: 0, mode: 0o777, modificationTime: modificationTime)
        entryCount += 1
    }

    /// Writes the two zero blocks that end the archive and flushes. Call once, last.
    @discardableResult
    public func finish() throws -> Summary {
        precondition(!finished, "TarWriter.finish() called twice")
        try append(zeros: 2 * TarHeader.blockSize)
        try flush()
        finished = true
        return Summary(entryCount: entryCount, byteCount: byteCount, sha256: hasher.hexDigest())
    }

    // MARK: Whole directories

    /// Archives the tree under `directory` into a new file at `path`, written atomically (a crash
    /// or an error leaves no partial archive). Entries are relative paths in byte order within
    /// each directory, parents before children; the archive itself is skipped if it lies inside
    /// `directory`. `include` sees each relative path (no trailing '/') and whether it is a
    /// directory; excluding a directory excludes everything under it. FIFOs, sockets and devices
    /// are errors unless `include` excludes them.
    ///
    /// - Parameter modificationTime: seconds since 1970 stamped on every entry, so callers can
    ///   make byte-identical archives (e.g. 0, or a commit's time).
    @discardableResult
    public static func archive(directory: String, to path: String, modificationTime: Int, symlinks: SymlinkPolicy = .skip,
                               include: (_ relativePath: String, _ isDirectory: Bool) -> Bool = { _, _ in true }) throws -> Summary {
        var summary: Summary?
        let root = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if root < 0 {
            throw ArchiveError(archive: path, rule: .fileSystem("cannot open directory \(directory): \(String(cString: strerror(errno)))"))
        }
        defer { close(root) }
        do {
            try AtomicFile.write(to: path) { fd in
                var st = stat()
                guard fstat(fd, &st) == 0 else {
                    throw ArchiveError(archive: path, rule: .fileSystem("fstat: \(String(cString: strerror(errno)))"))
                }
                let writer = TarWriter(fileDescriptor: fd, path: path)
                let walk = TreeWalk(writer: writer, archivePath: path, outputFile: (st.st_dev, st.st_ino),
                                    modificationTime: modificationTime, symlinks: symlinks)
                try walk.visit(directory: root, relative: [], include: include)
                summary = try writer.finish()
            }
        } catch let error as FileError {
            throw ArchiveError(archive: path, rule: .fileSystem(error.description))
        }
        return summary!
    }

    // MARK: Internals

    private func error(_ path: String, _ rule: ArchiveError.Rule) -> ArchiveError {
        ArchiveError(archive: archiveName, entryIndex: entryCount, entryName: path, rule: rule)
    }

    private func checkedComponents(_ path: String) throws -> [[UInt8]] {
        precondition(!finished, "TarWriter used after finish()")
        let components: [[UInt8]]
        do {
            components = try ArchivePath.components(of: Array(path.utf8))
        } catch {
            throw self.error(path, error.rule)
        }
        if components.isEmpty { throw self.error(path, .emptyPath) }
        return components
    }

    private func checkedPath(_ path: String) throws -> [UInt8] {
        ArchivePath.join(try checkedComponents(path))
    }

    private static func isASCII(_ bytes: [UInt8]) -> Bool {
        for byte in bytes where byte >= 0x80 { return false }
        return true
    }

    /// The ustar name written beside a PAX `path`, for readers that ignore PAX headers. It must
    /// be harmless when taken literally: the whole path with non-ASCII bytes replaced by '_' when
    /// that fits, else the first 99 bytes of the last component (a cut through the middle of a
    /// path could start with '/' or turn "a../b" into "../b").
    private static func fallbackName(_ path: [UInt8]) -> [UInt8] {
        let ascii = path.map { $0 >= 0x80 ? UInt8(ascii: "_") : $0 }
        if ascii.count <= TarHeader.name.count { return ascii }
        let isDirectory = ascii.last == UInt8(ascii: "/")
        let last = ascii.split(separator: UInt8(ascii: "/")).last.map(Array.init) ?? []
        return Array(last.prefix(TarHeader.name.count - 1)) + (isDirectory ? [UInt8(ascii: "/")] : [])
    }

    /// The ustar link name written beside a PAX `linkpath`: the target with non-ASCII bytes
    /// replaced when it fits, else empty (any truncation could point somewhere else).
    private static func fallbackLink(_ link: [UInt8]) -> [UInt8] {
        link.count <= TarHeader.linkname.count ? link.map { $0 >= 0x80 ? UInt8(ascii: "_") : $0 } : []
    }

    private func writeHeader(type: UInt8, path: [UInt8], displayPath: String, link: [UInt8], size: Int64,
                             mode: Int64, modificationTime: Int) throws {
        guard modificationTime >= 0, Int64(modificationTime) <= TarHeader.maximumOctal(digits: 11) else {
            throw error(displayPath, .modificationTimeOutOfRange(modificationTime))
        }
        let mtime = Int64(modificationTime)
        let split = TarWriter.isASCII(path) ? TarHeader.splitForUstar(path) : nil
        let linkFits = TarWriter.isASCII(link) && link.count <= TarHeader.linkname.count
        let sizeFits = size <= TarHeader.maximumOctal(digits: 11)

        if split == nil || !linkFits || !sizeFits {
            // Records in a fixed order, so the bytes depend only on the entry.
            var records: [UInt8] = []
            if !linkFits { records += TarHeader.paxRecord(key: "linkpath", value: link) }
            if split == nil { records += TarHeader.paxRecord(key: "path", value: path) }
            if !sizeFits { records += TarHeader.paxRecord(key: "size", value: Array(String(size).utf8)) }
            try appendHeader(type: UInt8(ascii: "x"), name: Array("././@PaxHeader".utf8), prefix: [], link: [],
                             size: Int64(records.count), mode: 0o644, mtime: mtime)
            try records.withUnsafeBytes { try append($0) }
            try pad(Int64(records.count))
        }
        let name = split?.name ?? TarWriter.fallbackName(path)
        try appendHeader(type: type, name: name, prefix: split?.prefix ?? [],
                         link: linkFits ? link : TarWriter.fallbackLink(link),
                         size: size, mode: mode, mtime: mtime)
    }

    private func appendHeader(type: UInt8, name: [UInt8], prefix: [UInt8], link: [UInt8], size: Int64,
                              mode: Int64, mtime: Int64) throws {
        var block = [UInt8](repeating: 0, count: TarHeader.blockSize)
        block.withUnsafeMutableBytes { h in
            TarHeader.writeString(name, field: TarHeader.name, into: h)
            TarHeader.writeNumber(mode, field: TarHeader.mode, into: h)
            TarHeader.writeNumber(0, field: TarHeader.uid, into: h)
            TarHeader.writeNumber(0, field: TarHeader.gid, into: h)
            TarHeader.writeNumber(size, field: TarHeader.size, into: h)
            TarHeader.writeNumber(mtime, field: TarHeader.mtime, into: h)
            h[TarHeader.typeflag] = type
            TarHeader.writeString(link, field: TarHeader.linkname, into: h)
            TarHeader.writeString(Array("ustar".utf8) + [0], field: TarHeader.magic, into: h)
            TarHeader.writeString(Array("00".utf8), field: TarHeader.version, into: h)
            TarHeader.writeNumber(0, field: TarHeader.devmajor, into: h)
            TarHeader.writeNumber(0, field: TarHeader.devminor, into: h)
            TarHeader.writeString(prefix, field: TarHeader.prefix, into: h)
            TarHeader.writeChecksum(h)
        }
        try block.withUnsafeBytes { try append($0) }
    }

    private func append(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            if buffered == buffer.count { try flush() }
            let n = min(buffer.count - buffered, bytes.count - offset)
            buffer.baseAddress!.advanced(by: buffered).copyMemory(from: bytes.baseAddress! + offset, byteCount: n)
            buffered += n
            offset += n
        }
    }

    private func append(zeros count: Int) throws {
        var left = count
        while left > 0 {
            if buffered == buffer.count { try flush() }
            let n = min(buffer.count - buffered, left)
            buffer.baseAddress!.advanced(by: buffered).initializeMemory(as: UInt8.self, repeating: 0, count: n)
            buffered += n
            left -= n
        }
    }

    private func pad(_ size: Int64) throws {
        try append(zeros: Int(TarHeader.padding(size)))
    }

    private func flush() throws {
        guard buffered > 0 else { return }
        let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<buffered])
        hasher.update(bytes)
        try output(bytes)
        byteCount += Int64(buffered)
        buffered = 0
    }
}

/// Walks a directory tree depth-first through descriptors (`openat`, `O_NOFOLLOW`), so a
/// directory swapped for a symbolic link mid-walk is not followed.
private struct TreeWalk {
    let writer: TarWriter
    let archivePath: String
    let outputFile: (dev_t, ino_t)
    let modificationTime: Int
    let symlinks: TarWriter.SymlinkPolicy

    private func failure(_ relative: String, _ what: String) -> ArchiveError {
        ArchiveError(archive: archivePath, entryName: relative, rule: .fileSystem("\(what): \(String(cString: strerror(errno)))"))
    }

    func visit(directory dfd: Int32, relative: [UInt8], include: (String, Bool) -> Bool) throws {
        for name in try list(dfd, relative: relative) {
            var st = stat()
            let path = relative.isEmpty ? name : relative + [UInt8(ascii: "/")] + name
            guard let text = String(validating: path, as: UTF8.self) else {
                throw ArchiveError(archive: archivePath, entryName: String(decoding: path, as: UTF8.self),
                                   rule: .notUTF8(field: "file name"))
            }
            let cName = (name + [0]).map { CChar(bitPattern: $0) }
            if fstatat(dfd, cName, &st, AT_SYMLINK_NOFOLLOW) != 0 { throw failure(text, "lstat") }
            if st.st_dev == outputFile.0 && st.st_ino == outputFile.1 { continue }
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                guard include(text, true) else { continue }
                try writer.addDirectory(text, modificationTime: modificationTime)
                let sub = openat(dfd, cName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if sub < 0 { throw failure(text, "open directory") }
                defer { close(sub) }
                try visit(directory: sub, relative: path, include: include)
            case S_IFREG:
                guard include(text, false) else { continue }
                // O_NONBLOCK: a file swapped for a FIFO since the lstat must not block the open.
                let fd = openat(dfd, cName, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
                if fd < 0 { throw failure(text, "open") }
                defer { close(fd) }
                var fst = stat()
                if fstat(fd, &fst) != 0 { throw failure(text, "fstat") }
                guard fst.st_mode & S_IFMT == S_IFREG else {
                    throw ArchiveError(archive: archivePath, entryName: text, rule: .unsupportedFile("file replaced while being archived"))
                }
                try writer.addFile(text, executable: fst.st_mode & S_IXUSR != 0, modificationTime: modificationTime,
                                   size: Int64(fst.st_size), contentsOf: fd)
            case S_IFLNK:
                guard symlinks == .store, include(text, false) else { continue }
                var target = [UInt8](repeating: 0, count: ArchivePath.maximumLength + 1)
                let n = target.withUnsafeMutableBufferPointer { b in
                    b.withMemoryRebound(to: CChar.self) { readlinkat(dfd, cName, $0.baseAddress!, $0.count) }
                }
                if n < 0 { throw failure(text, "readlink") }
                guard let targetText = String(validating: target[0..<n], as: UTF8.self) else {
                    throw ArchiveError(archive: archivePath, entryName: text, rule: .notUTF8(field: "link target"))
                }
                try writer.addSymlink(text, target: targetText, modificationTime: modificationTime)
            default:
                guard include(text, false) else { continue }
                let kind = switch st.st_mode & S_IFMT {
                case S_IFIFO: "FIFO"
                case S_IFSOCK: "socket"
                case S_IFCHR: "character device"
                case S_IFBLK: "block device"
                default: "file of unknown type"
                }
                throw ArchiveError(archive: archivePath, entryName: text, rule: .unsupportedFile(kind))
            }
        }
    }

    /// The names in a directory, without `.` and `..`, in byte order.
    private func list(_ dfd: Int32, relative: [UInt8]) throws -> [[UInt8]] {
        let fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0, let dir = fdopendir(fd) else {
            if fd >= 0 { close(fd) }
            throw failure(String(decoding: relative, as: UTF8.self), "read directory")
        }
        defer { closedir(dir) }
        var names: [[UInt8]] = []
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { throw failure(String(decoding: relative, as: UTF8.self), "read directory") }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
            names.append(name)
        }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }
}
