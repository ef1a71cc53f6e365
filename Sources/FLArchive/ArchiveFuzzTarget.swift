import FLCore

/// A workspace archive as a fuzzing target (`fx-fuzz archive` and the corpus replay tests): any bytes
/// must be refused or read without trapping, hanging or allocating far beyond the input.
public enum ArchiveFuzzTarget {
    /// Limits small enough for fuzzer inputs to reach each of `ArchiveLimits`' checks.
    public static let archiveLimits = ArchiveLimits(maximumTotalSize: 8192, maximumEntryCount: 16, maximumFileSize: 4096,
                                                    maximumMetadataSize: 1024)

    /// Reads `bytes` as a tar archive with `TarReader.entries(in:)` (every header and all data) and
    /// checks it with `ArchiveExtractor.check(bytes:)`, with the default limits and with small ones;
    /// then does the same again with every header's checksum made right. Without that second pass
    /// nearly every mutation of a header would stop at the checksum, and the fuzzer would never get
    /// to the fields behind it.
    ///
    /// - Throws: `FuzzFinding` when the checks disagree: an archive the extractor accepts must read
    ///   completely with the same number of entries, and one it accepts under small limits must pass
    ///   the default limits too.
    public static func archive(_ bytes: [UInt8]) throws(FuzzFinding) {
        try checkArchive(bytes)
        let repaired = withChecksumsRepaired(bytes)
        if repaired != bytes { try checkArchive(repaired) }
    }

    private static func checkArchive(_ bytes: [UInt8]) throws(FuzzFinding) {
        let entries = try? TarReader.entries(in: bytes)
        let checked = try? ArchiveExtractor.check(bytes: bytes)
        let checkedSmall = try? ArchiveExtractor.check(bytes: bytes, limits: archiveLimits)
        if let checked {
            guard let entries else {
                throw FuzzFinding(target: "archive", "ArchiveExtractor.check accepts the archive but TarReader.entries fails")
            }
            guard entries.count == checked.entryCount else {
                throw FuzzFinding(target: "archive", "check counts \(checked.entryCount) entries, the reader \(entries.count)")
            }
        }
        if let checkedSmall, checkedSmall != checked {
            throw FuzzFinding(target: "archive", "accepted under small limits (\(checkedSmall)) but not the same under the defaults")
        }
    }

    /// `bytes` with the checksum of each block a reader would take for a header recomputed: from the
    /// start, each non-zero block is a header followed by its `size` field's worth of data (PAX and
    /// GNU overrides of the size are not followed; the walk only needs to be right for most inputs).
    static func withChecksumsRepaired(_ bytes: [UInt8]) -> [UInt8] {
        var out = bytes
        let blockSize = TarHeader.blockSize
        out.withUnsafeMutableBytes { raw in
            var offset = 0
            while raw.count - offset >= blockSize {
                let block = UnsafeMutableRawBufferPointer(rebasing: raw[offset..<(offset + blockSize)])
                offset += blockSize
                var zero = true
                for byte in block where byte != 0 { zero = false; break }
                if zero { continue }
                TarHeader.writeChecksum(block)
                if let size = TarHeader.parseNumber(UnsafeRawBufferPointer(block), TarHeader.size), size > 0,
                   size <= Int64(raw.count - offset) {
                    offset += Int(min(size + TarHeader.padding(size), Int64(raw.count - offset)))
                }
            }
        }
        return out
    }
}
