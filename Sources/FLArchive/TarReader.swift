#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation

/// One entry of a tar archive, as its headers describe it (PAX and GNU long names applied).
public struct TarEntry: Sendable, Hashable {
    /// What an entry is, from its typeflag.
    public enum Kind: Sendable, Hashable, CustomStringConvertible {
        case file
        case hardLink
        case symbolicLink
        case characterDevice
        case blockDevice
        case directory
        case fifo
        /// Any other typeflag (GNU volume labels, dumpdirs, vendor extensions, …).
        case other(UInt8)

        public var description: String {
            switch self {
            case .file: "regular file"
            case .hardLink: "hard link"
            case .symbolicLink: "symbolic link"
            case .characterDevice: "character device"
            case .blockDevice: "block device"
            case .directory: "directory"
            case .fifo: "FIFO"
            case let .other(flag):
                flag >= 0x21 && flag < 0x7f ? "type '\(Character(Unicode.Scalar(flag)))'" : "type 0x\(String(flag, radix: 16))"
            }
        }
    }

    /// Position in the archive, counted from 0 (PAX and GNU long-name headers are not entries).
    public var index: Int
    /// Byte offset of the entry's first header (its PAX or long-name header when it has one).
    public var offset: Int64
    /// The path exactly as stored (not yet checked or normalised: see `ArchiveExtractor`).
    public var path: String
    public var kind: Kind
    /// Data bytes that follow the header; 0 for everything but regular files and unknown types.
    public var size: Int64
    /// Permission bits as stored (including any setuid/setgid/sticky bits, which extraction drops).
    public var mode: Int64
    /// Target of a symbolic or hard link; empty otherwise.
    public var linkTarget: String
    /// Seconds since 1970 as stored.
    public var modificationTime: Int64
}

/// Reads tar archives (POSIX ustar, PAX, GNU and v7) entry by entry, treating every byte as hostile.
///
/// - Each header's checksum is verified; numeric fields must be strict octal (optional leading
///   spaces, NUL/space terminator) or GNU base-256.
/// - Every size is checked against the bytes left in the archive before it is trusted, and PAX
///   headers and GNU long names against `maximumMetadataSize`, before anything is allocated.
/// - PAX `x` headers supply `path`, `linkpath` and `size`; GNU `L`/`K` supply long names and
///   link targets; global PAX `g` headers are skipped. Sparse files are refused.
/// - Links, directories and devices must not claim data bytes (tools disagree on skipping them).
/// - The archive must end with a zero block; a file that simply stops is reported as truncated.
///
/// Each header advances at least one block, so reading always terminates.
/// A reader is a cursor used from one thread.
public final class TarReader {
    private enum Source {
        case file(Int32)
        case memory([UInt8])
    }

    /// Largest PAX extended header or GNU long name accepted, by default.
    public static let defaultMaximumMetadataSize = 1 << 20

    /// The archive's label in errors (its path, or what the caller named the bytes).
    public let name: String
    private let source: Source
    private let totalSize: Int64
    private let maximumMetadataSize: Int
    private var block = [UInt8](repeating: 0, count: TarHeader.blockSize)

    /// Offset of the next header once the current entry's data (and padding) is passed.
    private var nextHeader: Int64 = 0
    /// Where the current entry's unread data starts, and how much is left.
    private var dataOffset: Int64 = 0
    private var dataLeft: Int64 = 0
    private var entryIndex = 0
    private var current: TarEntry?
    private var ended = false

    /// Opens the archive at `path` for reading. It must be a regular file (its size bounds every claim).
    public init(path: String, maximumMetadataSize: Int = TarReader.defaultMaximumMetadataSize) throws {
        // O_NONBLOCK so that a FIFO planted at `path` is refused below rather than blocking the open.
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 {
            throw ArchiveError(archive: path, rule: .fileSystem("cannot open: \(String(cString: strerror(errno)))"))
        }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw ArchiveError(archive: path, rule: .fileSystem("not a regular file"))
        }
        self.name = path
        self.source = .file(fd)
        self.totalSize = Int64(st.st_size)
        self.maximumMetadataSize = maximumMetadataSize
    }

    /// Reads an archive held in memory (the entry point for fuzzing). `name` labels errors.
    public init(bytes: [UInt8], name: String = "<memory>", maximumMetadataSize: Int = TarReader.defaultMaximumMetadataSize) {
        self.name = name
        self.source = .memory(bytes)
        self.totalSize = Int64(bytes.count)
        self.maximumMetadataSize = maximumMetadataSize
    }

    deinit {
        if case let .file(fd) = source { close(fd) }
    }

    /// What metadata headers said about the entry that follows them.
    private struct PendingMetadata {
        var pax = TarHeader.PAXOverrides()
        var longName: [UInt8]?
        var longLink: [UInt8]?
    }

    /// The next entry, or nil at the end-of-archive marker. Unread data of the previous entry is skipped.
    public func next() throws -> TarEntry? {
        if ended { return nil }
        var pending = PendingMetadata()
        var offset = nextHeader
        let start = offset
        current = nil
        dataLeft = 0

        while true {
            let available = totalSize - offset
            if available < Int64(TarHeader.blockSize) {
                if available == 0 && offset == start {
                    throw error(start, nil, .missingEndMarker)
                }
                throw error(start, nil, .truncated(needed: Int64(TarHeader.blockSize), available: available))
            }
            try block.withUnsafeMutableBytes { try readExactly(at: offset, into: $0) }
            let header = block
            let isZero = header.withUnsafeBytes { raw in
                var zero = true
                for byte in raw where byte != 0 { zero = false; break }
                return zero
            }
            if isZero {
                if offset != start { throw error(start, nil, .metadataWithoutEntry) }
                ended = true
                nextHeader = offset + Int64(TarHeader.blockSize)
                return nil
            }
            let fields = try header.withUnsafeBytes { h in try parseFields(h, start: start) }
            let afterHeader = offset + Int64(TarHeader.blockSize)
            // Metadata headers describe the entry that follows them.
            if let next = try readMetadata(fields, at: afterHeader, start: start, into: &pending) {
                offset = next
                continue
            }
            return try entry(fields, at: afterHeader, start: start, pending)
        }
    }

    /// Reads a metadata header's data (PAX, GNU long names) into `pending` and returns the offset of
    /// the header after it; nil when `fields` describe an entry.
    private func readMetadata(_ fields: Fields, at afterHeader: Int64, start: Int64, into pending: inout PendingMetadata) throws -> Int64? {
        let type = fields.type
        guard type == UInt8(ascii: "x") || type == UInt8(ascii: "g") || type == UInt8(ascii: "L") || type == UInt8(ascii: "K") else { return nil }
        let kind = type == UInt8(ascii: "x") || type == UInt8(ascii: "g") ? "PAX extended header" : "GNU long name"
        let remaining = totalSize - afterHeader
        if fields.size > remaining {
            throw error(start, nil, .truncated(needed: fields.size, available: remaining))
        }
        let next = min(afterHeader + fields.size + TarHeader.padding(fields.size), totalSize)
        // Global headers carry defaults (mostly times and charsets) this reader does not use.
        if type == UInt8(ascii: "g") { return next }
        if fields.size > Int64(maximumMetadataSize) {
            throw error(start, nil, .metadataTooLarge(kind: kind, size: fields.size, limit: maximumMetadataSize))
        }
        var data = [UInt8](repeating: 0, count: Int(fields.size))
        try data.withUnsafeMutableBytes { try readExactly(at: afterHeader, into: $0) }
        if type == UInt8(ascii: "x") {
            if let fault = TarHeader.parsePAX(data, into: &pending.pax) { throw error(start, nil, .badPAXRecord(fault)) }
        } else {
            // GNU long names are NUL-terminated; anything after the first NUL is ignored.
            let text = Array(data.prefix { $0 != 0 })
            if type == UInt8(ascii: "L") { pending.longName = text } else { pending.longLink = text }
        }
        return next
    }

    /// The entry `fields` and the metadata before it describe, made current.
    private func entry(_ fields: Fields, at afterHeader: Int64, start: Int64, _ pending: PendingMetadata) throws -> TarEntry {
        let pathBytes = pending.pax.path ?? pending.longName ?? fields.path
        let linkBytes = pending.pax.linkpath ?? pending.longLink ?? fields.link
        guard let path = String(validating: pathBytes, as: UTF8.self) else {
            throw error(start, nil, .notUTF8(field: "path"))
        }
        guard let linkTarget = String(validating: linkBytes, as: UTF8.self) else {
            throw error(start, path, .notUTF8(field: "link target"))
        }
        let size = pending.pax.size ?? fields.size
        var kind: TarEntry.Kind
        switch fields.type {
        case 0, UInt8(ascii: "0"), UInt8(ascii: "7"): kind = .file
        case UInt8(ascii: "1"): kind = .hardLink
        case UInt8(ascii: "2"): kind = .symbolicLink
        case UInt8(ascii: "3"): kind = .characterDevice
        case UInt8(ascii: "4"): kind = .blockDevice
        case UInt8(ascii: "5"): kind = .directory
        case UInt8(ascii: "6"): kind = .fifo
        case UInt8(ascii: "S"): throw error(start, path, .sparseFile)
        default: kind = .other(fields.type)
        }
        // Old (v7) archives mark directories with a trailing '/' on a plain-file entry.
        if fields.type == 0, pathBytes.last == UInt8(ascii: "/") { kind = .directory }
        if pending.pax.sparse { throw error(start, path, .sparseFile) }
        switch kind {
        case .file, .other: break
        default:
            if size != 0 { throw error(start, path, .unexpectedData(kind: kind.description, size: size)) }
        }
        let remaining = totalSize - afterHeader
        if size > remaining { throw error(start, path, .truncated(needed: size, available: remaining)) }

        let entry = TarEntry(index: entryIndex, offset: start, path: path, kind: kind, size: size, mode: fields.mode,
                             linkTarget: linkTarget, modificationTime: fields.mtime)
        entryIndex += 1
        current = entry
        dataOffset = afterHeader
        dataLeft = size
        nextHeader = afterHeader + size + TarHeader.padding(size)
        return entry
    }

    /// Reads up to `buffer.count` bytes of the current entry's data; returns 0 when it is all read.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = Int(min(Int64(buffer.count), dataLeft))
        if n == 0 { return 0 }
        try readExactly(at: dataOffset, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n]))
        dataOffset += Int64(n)
        dataLeft -= Int64(n)
        return n
    }

    /// All of the current entry's remaining data, if it is at most `limit` bytes.
    public func readData(limit: Int) throws -> [UInt8] {
        guard dataLeft <= Int64(limit) else {
            throw error(current?.offset ?? nextHeader, current?.path,
                        .fileTooLarge(size: dataLeft, limit: Int64(limit)))
        }
        var out = [UInt8](repeating: 0, count: Int(dataLeft))
        var filled = 0
        try out.withUnsafeMutableBytes { raw in
            while filled < raw.count {
                let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: raw[filled...]))
                filled += n
            }
        }
        return out
    }

    /// Reads every entry and all its data through a fixed buffer, and returns the entries: checks
    /// an archive's structure without keeping its contents (and is what the fuzzer drives).
    public static func entries(in bytes: [UInt8], name: String = "<memory>",
                               maximumMetadataSize: Int = TarReader.defaultMaximumMetadataSize) throws -> [TarEntry] {
        let reader = TarReader(bytes: bytes, name: name, maximumMetadataSize: maximumMetadataSize)
        var out: [TarEntry] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
        defer { buffer.deallocate() }
        while let entry = try reader.next() {
            out.append(entry)
            while try reader.read(into: buffer) > 0 {}
        }
        return out
    }

    // MARK: Internals

    private struct Fields {
        var type: UInt8
        var path: [UInt8]
        var link: [UInt8]
        var size: Int64
        var mode: Int64
        var mtime: Int64
    }

    private func error(_ offset: Int64, _ path: String?, _ rule: ArchiveError.Rule) -> ArchiveError {
        ArchiveError(archive: name, entryIndex: current?.index ?? entryIndex, entryName: path, offset: offset, rule: rule)
    }

    private func parseFields(_ h: UnsafeRawBufferPointer, start: Int64) throws -> Fields {
        guard let stored = TarHeader.parseNumber(h, TarHeader.checksum) else {
            throw error(start, nil, .badNumber(field: "checksum", text: text(h, TarHeader.checksum)))
        }
        let sums = TarHeader.checksums(h)
        if stored != sums.unsigned && stored != sums.signed {
            throw error(start, nil, .badChecksum(stored: stored, computed: sums.unsigned))
        }
        func number(_ field: Range<Int>, _ label: String) throws -> Int64 {
            guard let value = TarHeader.parseNumber(h, field) else {
                throw error(start, nil, .badNumber(field: label, text: text(h, field)))
            }
            return value
        }
        let mode = try number(TarHeader.mode, "mode")
        _ = try number(TarHeader.uid, "uid")
        _ = try number(TarHeader.gid, "gid")
        let size = try number(TarHeader.size, "size")
        let mtime = try number(TarHeader.mtime, "mtime")
        if size < 0 { throw error(start, nil, .badNumber(field: "size", text: text(h, TarHeader.size))) }

        var path = TarHeader.string(h, TarHeader.name)
        // Only POSIX ustar ("ustar\0" "00") has a prefix field; GNU's "ustar  \0" uses those bytes for other things.
        if TarHeader.bytesEqual(ArraySlice(h[TarHeader.magic]), "ustar\0") {
            let prefix = TarHeader.string(h, TarHeader.prefix)
            if !prefix.isEmpty { path = prefix + [UInt8(ascii: "/")] + path }
        }
        return Fields(type: h[TarHeader.typeflag], path: path, link: TarHeader.string(h, TarHeader.linkname),
                      size: size, mode: mode, mtime: mtime)
    }

    private func text(_ h: UnsafeRawBufferPointer, _ field: Range<Int>) -> String {
        String(decoding: h[field], as: UTF8.self)
    }

    /// Fills `dst` from `offset`. Callers have checked that the bytes lie inside the archive, so a
    /// short read means the file shrank while being read.
    private func readExactly(at offset: Int64, into dst: UnsafeMutableRawBufferPointer) throws {
        let count = dst.count
        if count == 0 { return }
        switch source {
        case let .memory(bytes):
            guard offset >= 0, offset <= Int64(bytes.count) - Int64(count) else {
                throw error(offset, current?.path, .truncated(needed: Int64(count), available: max(0, Int64(bytes.count) - offset)))
            }
            bytes.withUnsafeBytes { src in
                dst.baseAddress!.copyMemory(from: src.baseAddress! + Int(offset), byteCount: count)
            }
        case let .file(fd):
            var done = 0
            while done < count {
                let n = pread(fd, dst.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw error(offset, current?.path, .fileSystem("read: \(String(cString: strerror(errno)))"))
                }
                if n == 0 { throw error(offset, current?.path, .truncated(needed: Int64(count - done), available: 0)) }
                done += n
            }
        }
    }
}
