#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import FLCore

/// Unpacks tar archives that arrive from the network (workspaces sent to Envoys, `fx workspace
/// import`), refusing anything that could write outside the destination or exhaust the disk.
///
/// Every entry passes `ExtractionPolicy` before any of its bytes are written; the rules are
/// listed there and in `ArchiveError.Rule`. In short: regular files, directories, symbolic and
/// hard links only; no absolute paths, `..`, or NUL; links must resolve inside the destination;
/// nothing is created beneath a symbolic link; limits on entries and sizes (`ArchiveLimits`).
///
/// Extraction is all or nothing: the archive is unpacked into a fresh private directory beside
/// the destination (`.<name>.extract-XXXXXX`, mode 0700), which is renamed into place only when
/// every entry succeeded; on any error it is removed and the destination is untouched.
///
/// The destination must not exist, or must be an empty directory (which is replaced, so its own
/// permissions are not kept). Modes: files 0644, or 0755 when the archive gives any execute bit;
/// directories 0755; setuid, setgid and sticky bits are never set. Ownership and modification
/// times from the archive are not applied.
public enum ArchiveExtractor {
    /// What an archive held.
    public struct Summary: Sendable, Hashable {
        /// Entries read, of every kind.
        public var entryCount: Int
        public var fileCount: Int
        /// Explicit directory entries (parents created implicitly are not counted).
        public var directoryCount: Int
        /// Symbolic and hard links.
        public var linkCount: Int
        /// Bytes in regular files.
        public var byteCount: Int64
    }

    /// Extracts the archive at `archive` into `destination` (see the type's documentation for the rules).
    @discardableResult
    public static func extract(archive: String, into destination: String, limits: ArchiveLimits = ArchiveLimits()) throws -> Summary {
        let reader = try TarReader(path: archive, maximumMetadataSize: limits.maximumMetadataSize)
        let target = try Destination(path: destination, archive: archive)
        let staging = try Staging(beside: target, archive: archive)
        do {
            var policy = ExtractionPolicy(limits: limits)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
            defer { buffer.deallocate() }
            while let entry = try reader.next() {
                let step: ExtractionPolicy.Step
                do {
                    step = try policy.admit(entry)
                } catch {
                    throw ArchiveError(archive: archive, entryIndex: entry.index, entryName: entry.path, rule: error.rule)
                }
                try staging.apply(step, entry: entry, reader: reader, buffer: buffer)
            }
            try staging.commit(to: target)
            return summary(policy)
        } catch {
            staging.discard()
            throw error
        }
    }

    /// Applies every rule to the archive at `archive` without writing anything, e.g. to refuse an
    /// archive before it is stored or approved.
    @discardableResult
    public static func check(archive: String, limits: ArchiveLimits = ArchiveLimits()) throws -> Summary {
        try check(TarReader(path: archive, maximumMetadataSize: limits.maximumMetadataSize), limits: limits)
    }

    /// Applies every rule to an archive held in memory without writing anything (also a fuzzing entry point).
    @discardableResult
    public static func check(bytes: [UInt8], name: String = "<memory>", limits: ArchiveLimits = ArchiveLimits()) throws -> Summary {
        try check(TarReader(bytes: bytes, name: name, maximumMetadataSize: limits.maximumMetadataSize), limits: limits)
    }

    private static func check(_ reader: TarReader, limits: ArchiveLimits) throws -> Summary {
        var policy = ExtractionPolicy(limits: limits)
        while let entry = try reader.next() {
            do {
                _ = try policy.admit(entry)
            } catch {
                throw ArchiveError(archive: reader.name, entryIndex: entry.index, entryName: entry.path, rule: error.rule)
            }
        }
        return summary(policy)
    }

    /// Removes the staging directories (`.<name>.extract-XXXXXX`) that extractions into `parent`
    /// left behind when their process died mid-way, and returns the paths removed. Call it where an
    /// owner of `parent` starts, before it extracts anything there: a staging directory of an
    /// extraction still under way would be removed too.
    @discardableResult
    public static func removeLeftovers(in parent: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []
        var removed: [String] = []
        for name in names where isStagingName(name) {
            let path = "\(parent)/\(name)"
            var st = stat()
            // Only real directories: a link by that name is not ours to follow.
            guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else { continue }
            if (try? FileManager.default.removeItem(atPath: path)) != nil { removed.append(path) }
        }
        return removed
    }

    /// `removeLeftovers(in:)` in each folder of `directory` (an Envoy's or a Director's folder of
    /// experiments, whose workspaces are unpacked at `<directory>/<experiment>/workspace`).
    @discardableResult
    public static func removeLeftovers(inFoldersOf directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.sorted().flatMap { removeLeftovers(in: "\(directory)/\($0)") }
    }

    /// The `mkdtemp` template of the staging directory for a destination named `name`.
    static func stagingTemplate(for name: String) -> String { ".\(name)\(stagingMarker)XXXXXX" }

    private static let stagingMarker = ".extract-"

    /// Whether `name` is what `stagingTemplate` makes: a dot, a name, the marker, and six characters from `mkdtemp`.
    static func isStagingName(_ name: String) -> Bool {
        guard name.hasPrefix("."), let marker = name.range(of: stagingMarker, options: .backwards),
              marker.lowerBound > name.index(after: name.startIndex) else { return false }
        let suffix = name[marker.upperBound...]
        return suffix.count == 6 && suffix.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }
    }

    private static func summary(_ policy: ExtractionPolicy) -> Summary {
        Summary(entryCount: policy.entryCount, fileCount: policy.fileCount, directoryCount: policy.directoryCount,
                linkCount: policy.linkCount, byteCount: policy.totalSize)
    }
}

/// The destination, checked: its parent exists, and it is missing or an empty directory.
private struct Destination {
    let path: String
    let parent: String
    let name: String

    init(path raw: String, archive: String) throws {
        var path = raw
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        let name = (path as NSString).lastPathComponent
        let parentPath = (path as NSString).deletingLastPathComponent
        let parent = parentPath.isEmpty ? "." : parentPath
        guard !name.isEmpty, name != ".", name != "..", name != "/" else {
            throw ArchiveError(archive: archive, rule: .destinationExists(raw))
        }
        var st = stat()
        if lstat(path, &st) == 0 {
            guard st.st_mode & S_IFMT == S_IFDIR, Destination.isEmptyDirectory(path) else {
                throw ArchiveError(archive: archive, rule: .destinationExists(raw))
            }
        } else if errno != ENOENT {
            throw ArchiveError(archive: archive, rule: .fileSystem("\(raw): \(String(cString: strerror(errno)))"))
        }
        self.path = path
        self.parent = parent
        self.name = name
    }

    private static func isEmptyDirectory(_ path: String) -> Bool {
        guard let dir = opendir(path) else { return false }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name != [UInt8(ascii: ".")] && name != [UInt8(ascii: "."), UInt8(ascii: ".")] { return false }
        }
        return true
    }
}

/// The private directory an archive is unpacked into. All writes go through its descriptor with
/// `*at` calls and `O_NOFOLLOW`/`O_EXCL`, so even a path the policy missed could not follow a
/// link or overwrite anything.
private final class Staging {
    let path: String
    let archive: String
    private var root: Int32

    init(beside destination: Destination, archive: String) throws {
        self.archive = archive
        var template = Array("\(destination.parent)/\(ArchiveExtractor.stagingTemplate(for: destination.name))".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else {
            throw ArchiveError(archive: archive, rule: .fileSystem(
                "cannot create a directory beside \(destination.path): \(String(cString: strerror(errno)))"))
        }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        root = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if root < 0 {
            let e = errno
            rmdir(path)
            throw ArchiveError(archive: archive, rule: .fileSystem("cannot open \(path): \(String(cString: strerror(e)))"))
        }
    }

    deinit { if root >= 0 { close(root) } }

    private func failure(_ entry: TarEntry, _ what: String, _ code: Int32 = errno) -> ArchiveError {
        ArchiveError(archive: archive, entryIndex: entry.index, entryName: entry.path,
                     rule: .fileSystem("\(what): \(String(cString: strerror(code)))"))
    }

    private static func cString(_ bytes: [UInt8]) -> [CChar] {
        bytes.map { CChar(bitPattern: $0) } + [0]
    }

    private func makeDirectory(_ relative: [UInt8], entry: TarEntry) throws {
        let p = Staging.cString(relative)
        if mkdirat(root, p, 0o700) != 0 { throw failure(entry, "mkdir") }
        if fchmodat(root, p, 0o755, 0) != 0 { throw failure(entry, "chmod") }
    }

    func apply(_ step: ExtractionPolicy.Step, entry: TarEntry, reader: TarReader, buffer: UnsafeMutableRawBufferPointer) throws {
        for parent in step.parents { try makeDirectory(parent, entry: entry) }
        switch step.action {
        case .none, .directory(_, exists: true):
            break
        case let .directory(path, exists: false):
            try makeDirectory(path, entry: entry)
        case let .file(path, executable, size):
            let fd = openat(root, Staging.cString(path), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fd < 0 { throw failure(entry, "create") }
            defer { close(fd) }
            var written: Int64 = 0
            while true {
                let n = try reader.read(into: buffer)
                if n == 0 { break }
                do {
                    try FileDescriptorIO.writeAll(fd, UnsafeRawBufferPointer(rebasing: buffer[0..<n]), path: entry.path)
                } catch let error as FileError {
                    throw ArchiveError(archive: archive, entryIndex: entry.index, entryName: entry.path,
                                       rule: .fileSystem("write: \(error.reason)"))
                }
                written += Int64(n)
            }
            precondition(written == size, "reader returned \(written) bytes for a \(size)-byte entry")
            if fchmod(fd, executable ? 0o755 : 0o644) != 0 { throw failure(entry, "chmod") }
            if fsync(fd) != 0 { throw failure(entry, "fsync") }
        case let .symbolicLink(path, target):
            if symlinkat(Staging.cString(target), root, Staging.cString(path)) != 0 { throw failure(entry, "symlink") }
        case let .hardLink(path, target):
            if linkat(root, Staging.cString(target), root, Staging.cString(path), 0) != 0 { throw failure(entry, "link") }
        }
    }

    /// Renames the staging directory over the destination and syncs the parent.
    func commit(to destination: Destination) throws {
        if fchmod(root, 0o755) != 0 || fsync(root) != 0 {
            throw ArchiveError(archive: archive, rule: .fileSystem("\(path): \(String(cString: strerror(errno)))"))
        }
        if rename(path, destination.path) != 0 {
            let e = errno
            let rule: ArchiveError.Rule = e == ENOTEMPTY || e == EEXIST || e == ENOTDIR || e == EISDIR
                ? .destinationExists(destination.path)
                : .fileSystem("cannot rename into \(destination.path): \(String(cString: strerror(e)))")
            throw ArchiveError(archive: archive, rule: rule)
        }
        let parent = open(destination.parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if parent >= 0 {
            fsync(parent)
            close(parent)
        }
    }

    /// Removes the staging directory and everything in it (links are removed, never followed).
    func discard() {
        close(root)
        root = -1
        try? FileManager.default.removeItem(atPath: path)
    }
}
