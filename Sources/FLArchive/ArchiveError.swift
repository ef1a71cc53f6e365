/// Why an archive could not be written, read or extracted: which archive, which entry (counted
/// from 0, metadata headers not counted) and its name when known, the byte offset of its header
/// for structural faults, and the rule that was broken.
///
/// Printed as e.g. `ws.tar: entry 3 "../etc/passwd": path climbs out of the destination ('..' component)`.
/// Names come from untrusted archives, so control characters are escaped when printed.
public struct ArchiveError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The archive file (or a label such as `<memory>` for bytes).
    public var archive: String
    /// The entry's position in the archive, counted from 0; nil for faults not tied to one entry.
    public var entryIndex: Int?
    /// The entry's path as stored in the archive, when it was read before the fault.
    public var entryName: String?
    /// Byte offset of the entry's first header, for faults in the archive's structure.
    public var offset: Int64?
    /// The rule that was broken.
    public var rule: Rule

    public init(archive: String, entryIndex: Int? = nil, entryName: String? = nil, offset: Int64? = nil, rule: Rule) {
        self.archive = archive
        self.entryIndex = entryIndex
        self.entryName = entryName
        self.offset = offset
        self.rule = rule
    }

    public var description: String {
        var place: [String] = []
        if let entryIndex { place.append("entry \(entryIndex)") }
        if let entryName { place.append("\"\(ArchiveError.printable(entryName))\"") }
        if let offset { place.append("at offset \(offset)") }
        return place.isEmpty ? "\(archive): \(rule)" : "\(archive): \(place.joined(separator: " ")): \(rule)"
    }

    /// The rules an archive or an extraction can break.
    public enum Rule: Sendable, Equatable, CustomStringConvertible {
        // MARK: Structure (reading)

        /// The header's checksum field does not match its bytes.
        case badChecksum(stored: Int64, computed: Int64)
        /// A numeric header field holds something other than octal digits or a base-256 number.
        case badNumber(field: String, text: String)
        /// The archive ends before the bytes an entry claims (`needed`) are there.
        case truncated(needed: Int64, available: Int64)
        /// The archive ends without the zero block that marks its end.
        case missingEndMarker
        /// A PAX header or GNU long name is larger than the limit.
        case metadataTooLarge(kind: String, size: Int64, limit: Int)
        /// A PAX extended header's records are malformed.
        case badPAXRecord(String)
        /// A name or link target is not valid UTF-8.
        case notUTF8(field: String)
        /// Metadata headers (PAX, GNU long name) are followed by the end of the archive, not an entry.
        case metadataWithoutEntry
        /// A link, directory or device entry claims data bytes; readers disagree on whether to skip
        /// them, which is how one archive shows different files to different tools.
        case unexpectedData(kind: String, size: Int64)
        /// The entry is a sparse file (GNU sparse PAX keys or type 'S').
        case sparseFile

        // MARK: Paths and types (extracting)

        case emptyPath
        case absolutePath
        /// A path component is `..`.
        case parentComponent
        case nulInPath
        /// The path or one of its components is longer than the file system allows.
        case pathTooLong(length: Int, limit: Int)
        /// A non-directory's name ends with `/`.
        case trailingSlash
        /// A symbolic or hard link with an empty target.
        case emptyLinkTarget
        /// A link target is absolute.
        case absoluteLinkTarget(String)
        /// A link target leaves the destination, or has `..` after a name (which can climb out
        /// through another symbolic link).
        case linkEscapes(String)
        /// A hard link whose target is not a regular file extracted earlier from the same archive.
        case hardLinkTargetMissing(String)
        /// An entry would be created beneath a symbolic link.
        case parentIsSymlink(String)
        /// An entry would be created beneath something that is not a directory.
        case parentIsNotDirectory(String)
        /// A second entry with a path already used (other than a directory repeated).
        case duplicateEntry
        /// Devices, FIFOs and unknown entry types.
        case unsupportedType(String)

        // MARK: Limits

        case tooManyEntries(limit: Int)
        case fileTooLarge(size: Int64, limit: Int64)
        case totalSizeExceeded(limit: Int64)

        // MARK: Destination and source trees

        /// The destination exists and is not an empty directory.
        case destinationExists(String)
        /// The writer met a file it cannot archive (a FIFO, socket or device).
        case unsupportedFile(String)
        /// A file's size changed while it was being archived.
        case fileChanged(expected: Int64)
        /// The writer was given a modification time outside the ustar range.
        case modificationTimeOutOfRange(Int)
        /// A system call failed.
        case fileSystem(String)

        public var description: String {
            switch self {
            case let .badChecksum(stored, computed):
                "header checksum mismatch (stored \(stored), computed \(computed))"
            case let .badNumber(field, text):
                "\(field) field is not an octal or base-256 number: \"\(ArchiveError.printable(text))\""
            case let .truncated(needed, available):
                "archive is truncated: \(needed) more bytes needed but only \(available) remain"
            case .missingEndMarker:
                "archive is truncated: it ends without the end-of-archive zero block"
            case let .metadataTooLarge(kind, size, limit):
                "\(kind) of \(size) bytes is larger than the limit of \(limit) bytes"
            case let .badPAXRecord(detail):
                "malformed PAX extended header: \(detail)"
            case let .notUTF8(field):
                "\(field) is not valid UTF-8"
            case .metadataWithoutEntry:
                "extended headers are followed by the end of the archive instead of an entry"
            case let .unexpectedData(kind, size):
                "\(kind) entry claims \(size) bytes of data"
            case .sparseFile:
                "sparse files are not supported"
            case .emptyPath:
                "path is empty"
            case .absolutePath:
                "path is absolute"
            case .parentComponent:
                "path climbs out of the destination ('..' component)"
            case .nulInPath:
                "path contains a NUL byte"
            case let .pathTooLong(length, limit):
                "path or path component of \(length) bytes is longer than \(limit)"
            case .trailingSlash:
                "name ends with '/' but the entry is not a directory"
            case .emptyLinkTarget:
                "link target is empty"
            case let .absoluteLinkTarget(target):
                "link target \"\(ArchiveError.printable(target))\" is absolute"
            case let .linkEscapes(target):
                "link target \"\(ArchiveError.printable(target))\" leaves the destination"
            case let .hardLinkTargetMissing(target):
                "hard link target \"\(ArchiveError.printable(target))\" is not a regular file extracted earlier"
            case let .parentIsSymlink(parent):
                "parent \"\(ArchiveError.printable(parent))\" is a symbolic link"
            case let .parentIsNotDirectory(parent):
                "parent \"\(ArchiveError.printable(parent))\" is not a directory"
            case .duplicateEntry:
                "path appears earlier in the archive"
            case let .unsupportedType(kind):
                "\(kind) entries are not allowed"
            case let .tooManyEntries(limit):
                "archive has more than \(limit) entries"
            case let .fileTooLarge(size, limit):
                "file of \(size) bytes is larger than the limit of \(limit) bytes"
            case let .totalSizeExceeded(limit):
                "files add up to more than the limit of \(limit) bytes"
            case let .destinationExists(path):
                "destination \(path) exists and is not an empty directory"
            case let .unsupportedFile(kind):
                "cannot archive a \(kind)"
            case let .fileChanged(expected):
                "file changed while being archived (expected \(expected) bytes)"
            case let .modificationTimeOutOfRange(time):
                "modification time \(time) is outside 0...\(TarHeader.maximumOctal(digits: 11))"
            case let .fileSystem(detail):
                detail
            }
        }
    }

    /// `text` with control characters, quotes and backslashes escaped, so a hostile name cannot
    /// rewrite a terminal line or forge a log record.
    static func printable(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) || scalar.properties.generalCategory == .format {
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
