#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FLCore
import Testing
import FLTesting
@testable import FLArchive

/// Expects `body` to throw an `ArchiveError` whose rule matches; returns the error for more checks.
@discardableResult
func expectArchiveError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation,
                        where matches: (ArchiveError.Rule) -> Bool) -> ArchiveError? {
    do {
        try body()
        Issue.record("expected an ArchiveError, but nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let error as ArchiveError {
        #expect(matches(error.rule), "unexpected rule in: \(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected an ArchiveError, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

@Suite("TarReader")
struct TarReaderTests {
    /// Reads every entry of an archive file with its contents.
    static func readAll(_ path: String) throws -> [(TarEntry, [UInt8])] {
        let reader = try TarReader(path: path)
        var out: [(TarEntry, [UInt8])] = []
        while let entry = try reader.next() { out.append((entry, try reader.readData(limit: 1 << 24))) }
        return out
    }

    @Test(arguments: ["gnu", "pax", "ustar", "oldgnu"])
    func readsArchivesMadeByGNUTar(format: String) throws {
        let scratch = try TemporaryDirectory(prefix: "swiftfl-archive")
        defer { scratch.remove() }
        let source = try scratch.makeDirectory("src")
        // Over 100 bytes but splittable, so even plain ustar can store it (in its prefix field).
        let longPath = String(repeating: "a", count: 70) + "/" + String(repeating: "b", count: 60) + "/long.txt"
        let big = (0..<20_000).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }
        try scratch.write("src/" + longPath, "long\n")
        try scratch.write("src/big.bin", big)
        try scratch.write("src/empty", [])
        try scratch.write("src/run.sh", "#!/bin/sh\n", mode: 0o755)
        try FileManager.default.createSymbolicLink(atPath: source + "/link", withDestinationPath: "run.sh")
        let archive = scratch.appending("gnu.tar")
        try Tools.gnuTar(["--format=\(format)", "--sort=name", "-cf", archive, "-C", source, "."])

        let entries = try Self.readAll(archive)
        let byPath = Dictionary(entries.map { ($0.0.path, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(entries.first?.0.path == "./" && entries.first?.0.kind == .directory)
        #expect(entries.map(\.0.index) == Array(0..<entries.count))
        let long = try #require(byPath["./" + longPath])
        #expect(long.1 == Array("long\n".utf8))
        let bigEntry = try #require(byPath["./big.bin"])
        #expect(bigEntry.0.size == 20_000 && bigEntry.1 == big)
        #expect(byPath["./empty"]?.1 == [])
        #expect(byPath["./run.sh"].map { $0.0.mode & 0o777 } == 0o755)
        #expect(byPath["./link"]?.0.kind == .symbolicLink && byPath["./link"]?.0.linkTarget == "run.sh")
    }

    @Test func readsGNULongNamesAndLinksAndPAXOverrides() throws {
        let longName = "dir/" + String(repeating: "L", count: 200)
        let longLink = String(repeating: "K", count: 180)
        let paxName = "pax/" + String(repeating: "P", count: 300) + "/ü"
        let bytes = RawTar.gnuLong("L", longName) + RawTar.file("short", "gnu")
            + RawTar.gnuLong("K", longLink) + RawTar.header("sym", type: "2", link: "short-link")
            + RawTar.pax([("mtime", "1.5"), ("path", paxName), ("SCHILY.xattr.user.x", "y"), ("linkpath", "ignored-for-files")])
            + RawTar.file("placeholder", "pax")
            + RawTar.header("pax_global_header", type: "g", size: 20) + RawTar.data(Array("20 comment=hello!!\n\0".utf8))
            + RawTar.header("old-dir/", type: "\0")
            + RawTar.header("prefix-name", size: 1, prefix: "pre/x") + RawTar.data(Array("p".utf8))
            + RawTar.end
        let entries = try TarReader.entries(in: bytes)
        #expect(entries.map(\.path) == [longName, "sym", paxName, "old-dir/", "pre/x/prefix-name"])
        #expect(entries[1].linkTarget == longLink)
        #expect(entries[2].size == 3)
        #expect(entries[3].kind == .directory)
        #expect(entries.map(\.index) == [0, 1, 2, 3, 4])
    }

    @Test func paxSizeOverridesTheHeader() throws {
        let bytes = RawTar.pax([("size", "5")]) + RawTar.header("f", size: 0) + RawTar.data(Array("12345".utf8)) + RawTar.end
        let reader = TarReader(bytes: bytes)
        let entry = try #require(try reader.next())
        #expect(entry.size == 5)
        #expect(try reader.readData(limit: 10) == Array("12345".utf8))
        #expect(try reader.next() == nil)
    }

    @Test func base256SizesAreParsed() throws {
        let bytes = RawTar.header("f") { h in
            for i in 124..<136 { h[i] = 0 }
            h[124] = 0x80
            h[135] = 3
        } + RawTar.data([1, 2, 3]) + RawTar.end
        let entries = try TarReader.entries(in: bytes)
        #expect(entries.first?.size == 3)
    }

    @Test func fileAndMemoryReadersAgree() throws {
        let scratch = try TemporaryDirectory(prefix: "swiftfl-archive")
        defer { scratch.remove() }
        let bytes = RawTar.file("a", "1") + RawTar.file("b", String(repeating: "x", count: 1000)) + RawTar.end
        let path = try scratch.write("a.tar", bytes)
        let fromFile = try Self.readAll(path)
        let fromMemory = TarReader(bytes: bytes)
        for (entry, data) in fromFile {
            let other = try #require(try fromMemory.next())
            #expect(other == entry)
            #expect(try fromMemory.readData(limit: 1 << 20) == data)
        }
        #expect(try fromMemory.next() == nil)
        #expect(fromFile.count == 2)
    }

    // MARK: Faults

    @Test func onlyRegularFilesAreOpened() throws {
        let scratch = try TemporaryDirectory(prefix: "swiftfl-archive")
        defer { scratch.remove() }
        #expect(mkfifo(scratch.appending("fifo"), 0o644) == 0)
        // Opening a FIFO for reading would block until a writer came; it is refused at once.
        expectArchiveError({ _ = try TarReader(path: scratch.appending("fifo")) }) { $0 == .fileSystem("not a regular file") }
        expectArchiveError({ _ = try TarReader(path: scratch.path) }) { $0 == .fileSystem("not a regular file") }
        expectArchiveError({ _ = try TarReader(path: scratch.appending("missing")) }) { if case .fileSystem = $0 { true } else { false } }
    }

    @Test func badChecksumNamesEntryAndOffset() throws {
        let bytes = RawTar.file("ok", "fine") + RawTar.header("bad", validChecksum: false) + RawTar.end
        let error = expectArchiveError({ _ = try TarReader.entries(in: bytes, name: "ws.tar") }) {
            if case .badChecksum = $0 { return true } else { return false }
        }
        #expect(error?.entryIndex == 1)
        #expect(error?.offset == 1024)
        #expect(error?.description.hasPrefix("ws.tar: entry 1 at offset 1024: header checksum mismatch") == true)
    }

    @Test func nonOctalDigitsAreRefused() {
        for (field, range) in [("size", 124..<136), ("mode", 100..<108), ("mtime", 136..<148)] {
            let bytes = RawTar.header("f") { h in
                for (i, byte) in Array("0000008".utf8).enumerated() { h[range.lowerBound + i] = byte }
            } + RawTar.end
            expectArchiveError({ _ = try TarReader.entries(in: bytes) }) {
                if case .badNumber(field, _) = $0 { return true } else { return false }
            }
        }
        // Digits after the terminator, and a space inside the number.
        for text in ["0000001\u{0}1", "00 00001"] {
            let bytes = RawTar.header("f") { h in
                for i in 124..<136 { h[i] = 0 }
                for (i, byte) in Array(text.utf8).enumerated() { h[124 + i] = byte }
            } + RawTar.end
            expectArchiveError({ _ = try TarReader.entries(in: bytes) }) {
                if case .badNumber("size", _) = $0 { return true } else { return false }
            }
        }
    }

    @Test func sizeClaiming100GiBIsTruncationNotAllocation() {
        let hundredGiB: Int64 = 100 << 30
        let bytes = RawTar.header("huge") { h in
            for i in 124..<136 { h[i] = 0 }
            h[124] = 0x80
            var v = hundredGiB
            for i in stride(from: 135, to: 124, by: -1) {
                h[i] = UInt8(truncatingIfNeeded: v)
                v >>= 8
            }
        } + RawTar.data(Array("tiny".utf8)) + RawTar.end
        expectArchiveError({ _ = try TarReader.entries(in: bytes) }) {
            if case let .truncated(needed, _) = $0 { return needed == hundredGiB } else { return false }
        }
    }

    @Test func truncatedDataAndHeadersAreErrors() {
        let whole = RawTar.file("a", String(repeating: "z", count: 1000)) + RawTar.end
        // Cut inside the data, inside the padding, inside the end marker's absence, inside a header.
        for cut in [700, 1000, 100] {
            expectArchiveError({ _ = try TarReader.entries(in: Array(whole[..<cut])) }) {
                if case .truncated = $0 { return true } else { return false }
            }
        }
        // All of the entry, but no end-of-archive marker.
        expectArchiveError({ _ = try TarReader.entries(in: Array(whole[..<1536])) }) { $0 == .missingEndMarker }
        expectArchiveError({ _ = try TarReader.entries(in: []) }) { $0 == .missingEndMarker }
    }

    @Test func paxHeadersClaimingHugeLengthsAreRefused() {
        // The header's own size above the metadata limit (the data is even there).
        let big = RawTar.header("././@PaxHeader", type: "x", size: 2 << 20) + [UInt8](repeating: 0x20, count: 2 << 20)
            + RawTar.file("f", "x") + RawTar.end
        expectArchiveError({ _ = try TarReader.entries(in: big) }) {
            $0 == .metadataTooLarge(kind: "PAX extended header", size: 2 << 20, limit: 1 << 20)
        }
        // A size far beyond the archive.
        let claim = RawTar.header("././@PaxHeader", type: "x", size: 0o77777777777) + RawTar.end
        expectArchiveError({ _ = try TarReader.entries(in: claim) }) {
            if case .truncated = $0 { return true } else { return false }
        }
        // A record whose length runs past the header's data.
        let record = Array("99999999 path=x\n".utf8)
        let inner = RawTar.header("././@PaxHeader", type: "x", size: record.count) + RawTar.data(record) + RawTar.file("f", "x") + RawTar.end
        expectArchiveError({ _ = try TarReader.entries(in: inner) }) {
            if case .badPAXRecord = $0 { return true } else { return false }
        }
        // A zero-length record (would never advance) and a record without a newline.
        for body in ["0 x=y\n", "8 path=x\n", "5 a=b!", "x path=y\n", "6 =ab\n"] {
            let bytes = RawTar.header("././@PaxHeader", type: "x", size: body.utf8.count) + RawTar.data(Array(body.utf8))
                + RawTar.file("f", "x") + RawTar.end
            expectArchiveError({ _ = try TarReader.entries(in: bytes) }) {
                if case .badPAXRecord = $0 { return true } else { return false }
            }
        }
        // A GNU long name over the limit.
        let longName = RawTar.header("././@LongLink", type: "L", size: 3 << 20) + RawTar.end
        expectArchiveError({ _ = try TarReader.entries(in: longName, maximumMetadataSize: 1 << 20) }) {
            if case .truncated = $0 { return true }
            return $0 == .metadataTooLarge(kind: "GNU long name", size: 3 << 20, limit: 1 << 20)
        }
    }

    @Test func structuralOddities() {
        // Metadata with no entry after it.
        expectArchiveError({ _ = try TarReader.entries(in: RawTar.pax([("path", "x")]) + RawTar.end) }) { $0 == .metadataWithoutEntry }
        // A symbolic link claiming data: tools disagree on skipping it, so it is refused.
        let sym = RawTar.header("s", type: "2", size: 512, link: "t") + RawTar.data([UInt8](repeating: 0x41, count: 512)) + RawTar.end
        expectArchiveError({ _ = try TarReader.entries(in: sym) }) { $0 == .unexpectedData(kind: "symbolic link", size: 512) }
        // Sparse files.
        let sparse = RawTar.header("s", type: "S") + RawTar.end
        expectArchiveError({ _ = try TarReader.entries(in: sparse) }) { $0 == .sparseFile }
        let paxSparse = RawTar.pax([("GNU.sparse.major", "1")]) + RawTar.file("s", "") + RawTar.end
        expectArchiveError({ _ = try TarReader.entries(in: paxSparse) }) { $0 == .sparseFile }
        // A name that is not UTF-8.
        let latin1 = RawTar.header("x") { h in h[0] = 0xe9 } + RawTar.end
        expectArchiveError({ _ = try TarReader.entries(in: latin1) }) { $0 == .notUTF8(field: "path") }
    }

    @Test func readingStopsAtTheFirstZeroBlock() throws {
        // What follows the end marker is not read (GNU tar does the same).
        let bytes = RawTar.file("a", "1") + RawTar.end + RawTar.file("hidden", "2") + RawTar.end
        #expect(try TarReader.entries(in: bytes).map(\.path) == ["a"])
    }

    /// Thousands of corrupted variants of a valid archive: each either reads or fails with an
    /// `ArchiveError`; none crashes, hangs or throws anything else. (A libFuzzer target drives the
    /// same entry points much harder.)
    @Test func corruptedArchivesNeverCrash() throws {
        var out: [UInt8] = []
        let writer = TarWriter(name: "mem") { out += $0 }
        try writer.addDirectory("d", modificationTime: 1)
        try writer.addFile("d/" + String(repeating: "n", count: 130), modificationTime: 1, contents: Array("data".utf8))
        try writer.addSymlink("d/l", target: "../d", modificationTime: 1)
        try writer.addFile("ü.txt", executable: true, modificationTime: 1, contents: [UInt8](repeating: 7, count: 700))
        try writer.finish()
        let valid = out + RawTar.gnuLong("L", "gnu/long") + RawTar.end
        #expect(try TarReader.entries(in: out).count == 4)

        var rng = SplitMix64(state: 0x5eed)
        var outcomes = (read: 0, refused: 0)
        func attempt(_ bytes: [UInt8]) {
            do {
                _ = try TarReader.entries(in: bytes)
                _ = try ArchiveExtractor.check(bytes: bytes)
                outcomes.read += 1
            } catch is ArchiveError {
                outcomes.refused += 1
            } catch {
                Issue.record("unexpected error type: \(error)")
            }
        }
        for cut in stride(from: 0, to: valid.count, by: 97) { attempt(Array(valid[..<cut])) }
        let interesting: [UInt8] = [0, 0x20, 0x30, 0x37, 0x38, 0x80, 0xff, UInt8(ascii: "x"), UInt8(ascii: "L"), UInt8(ascii: "\n")]
        for _ in 0..<3000 {
            var bytes = valid
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                // Mostly headers, where the parsing is.
                let block = Int(rng.next() % UInt64(bytes.count / 512)) * 512
                let offset = rng.next() % 3 == 0 ? Int(rng.next() % UInt64(bytes.count)) : block + Int(rng.next() % 512)
                bytes[offset] = rng.next() % 2 == 0 ? interesting[Int(rng.next() % UInt64(interesting.count))] : UInt8(truncatingIfNeeded: rng.next())
            }
            attempt(bytes)
        }
        #expect(outcomes.read > 0 && outcomes.refused > 0)
    }
}
