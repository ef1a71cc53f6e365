#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import FLTesting
@testable import FLArchive
import FLPKI

/// A workspace-like tree exercising what the writer must handle: nested and empty directories,
/// empty files, an executable, non-ASCII names, a path that needs the ustar prefix, a path that
/// needs a PAX header, and a file larger than the writer's 64 KiB buffer.
struct SampleTree {
    static let ustarPrefixPath = String(repeating: "p", count: 60) + "/" + String(repeating: "q", count: 60) + "/file.txt"
    static let paxPath = String(repeating: "d", count: 150) + "/" + String(repeating: "e", count: 120) + "/long.txt"

    /// Relative paths of every entry the writer should emit, in its order (byte order within each directory).
    static let entries = [
        "big.bin", "empty", "empty-dir/", "plan/", "plan/cols.yaml", "plan/plan.yaml",
        String(repeating: "d", count: 150) + "/", String(repeating: "d", count: 150) + "/" + String(repeating: "e", count: 120) + "/",
        paxPath,
        String(repeating: "p", count: 60) + "/", String(repeating: "p", count: 60) + "/" + String(repeating: "q", count: 60) + "/",
        ustarPrefixPath,
        "run.sh", "src/", "src/deep/", "src/deep/er/", "src/deep/er/x.py", "src/model.py", "unicodé/", "unicodé/名前.txt",
    ].sorted { a, b in
        // The writer sorts names within a directory; for this tree that is the same as sorting
        // whole paths with '/' ranked below every other byte.
        let key = { (s: String) in Array(s.utf8).map { $0 == UInt8(ascii: "/") ? 0 : $0 } }
        return key(a).lexicographicallyPrecedes(key(b))
    }

    static func make(in scratch: TemporaryDirectory, _ name: String) throws -> String {
        let root = try scratch.makeDirectory(name)
        try scratch.write("\(name)/plan/plan.yaml", "aggregator:\n  rounds: 3\n")
        try scratch.write("\(name)/plan/cols.yaml", "collaborators: [one, two]\n")
        try scratch.write("\(name)/src/model.py", "print('model')\n")
        try scratch.write("\(name)/src/deep/er/x.py", "x = 1\n")
        try scratch.write("\(name)/run.sh", "#!/bin/sh\necho run\n", mode: 0o755)
        try scratch.write("\(name)/empty", [])
        try scratch.makeDirectory("\(name)/empty-dir")
        try scratch.write("\(name)/unicodé/名前.txt", "名前\n")
        try scratch.write("\(name)/\(ustarPrefixPath)", "prefix\n")
        try scratch.write("\(name)/\(paxPath)", "pax\n")
        try scratch.write("\(name)/big.bin", (0..<150_000).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) })
        return root
    }
}

@Suite("TarWriter")
struct TarWriterTests {
    @Test func gnuTarListsAndExtractsIdenticalContent() throws {
        let scratch = try TemporaryDirectory(prefix: "swiftfl-archive")
        defer { scratch.remove() }
        let source = try SampleTree.make(in: scratch, "src")
        let archive = scratch.appending("ws.tar")
        let summary = try TarWriter.archive(directory: source, to: archive, modificationTime: 1_700_000_000)
        #expect(summary.entryCount == SampleTree.entries.count)
        #expect(summary.byteCount == Int64(try FileManager.default.attributesOfItem(atPath: archive)[.size] as! UInt64))
        #expect(summary.sha256 == (try SHA256.hexDigest(ofFile: archive)))

        let listing = try Tools.gnuTar(["-tf", archive]).split(separator: "\n").map(String.init)
        #expect(listing == SampleTree.entries)

        let out = try scratch.makeDirectory("out")
        try Tools.gnuTar(["-xf", archive, "-C", out])
        #expect(try treeSnapshot(out) == (try treeSnapshot(source)))

        // Fixed metadata: uid/gid 0 and the given time, as GNU tar reports them.
        let verbose = try Tools.gnuTar(["--numeric-owner", "--full-time", "--utc", "-tvf", archive])
        let first = try #require(verbose.split(separator: "\n").first)
        #expect(first.hasPrefix("-rw-r--r-- 0/0"))
        #expect(first.contains("2023-11-14 22:13:20"))
        #expect(verbose.contains("-rwxr-xr-x 0/0"))
    }

    @Test func pythonTarfileListsOurArchive() throws {
        let python = try Tools.python()
        let scratch = try TemporaryDirectory(prefix: "swiftfl-archive")
        defer { scratch.remove() }
        let source = try SampleTree.make(in: scratch, "src")
        let archive = scratch.appending("ws.tar")
        try TarWriter.archive(directory: source, to: archive, modificationTime: 0)
        let script = """
        import sys, tarfile
        with tarfile.open(sys.argv[1]) as t:
            for m in t:
                print(m.name + ("/" if m.isdir() else ""), m.size, oct(m.mode), m.uid, m.mtime)
        """
        let result = try Tools.run(python, ["-c", script, archive])
        #expect(result.status.isSuccess, "\(result.standardError)")
        let lines = result.standardOutput.split(separator: "\n").map(String.init)
        #expect(lines.map { String($0.split(separator: " ")[0]) } == SampleTree.entries)
        #expect(lines.contains("run.sh 19 0o755 0 0"))
        #expect(lines.contains("plan/ 0 0o755 0 0"))
        #expect(lines.contains("unicodé/名前.txt 7 0o644 0 0"))
        #expect(lines.contains("big.bin 150000 0o644 0 0"))
    }

    @Test func sameTreeGivesSameBytes() throws {
        let scratch = try TemporaryDirectory(prefix: "swiftfl-archive")
        defer { scratch.remove() }
        let one = try SampleTree.make(in: scratch, "one")
        // A second copy made later: different inodes, creation order and file times.
        let two = try SampleTree.make(in: scratch, "two")
        utimes(two + "/plan/plan.yaml", [timeval(tv_sec: 12345, tv_usec: 0), timeval(tv_sec: 12345, tv_usec: 0)])
        let a = try TarWriter.archive(directory: one, to: scratch.appending("a.tar"), modificationTime: 42)
        let b = try TarWriter.archive(directory: two, to: scratch.appending("b.tar"), modificationTime: 42)
        let again = try TarWriter.archive(directory: one, to: scratch.appending("c.tar"), modificationTime: 42)
        #expect(a.sha256 == b.sha256)
        #expect(a.sha256 == again.sha256)
        let later = try TarWriter.archive(directory: one, to: scratch.appending("d.tar"), modificationTime: 43)
        #expect(later.sha256 != a.sha256)
    }

    @Test func ustarPrefixUsedWhenItFitsAndPAXOtherwise() throws {
        var out: [UInt8] = []
        let writer = TarWriter(name: "mem") { out += $0 }
        try writer.addFile(SampleTree.ustarPrefixPath, modificationTime: 0, contents: [UInt8]())
        try writer.addFile(SampleTree.paxPath, modificationTime: 0, contents: [UInt8]())
        try writer.addFile("é", modificationTime: 0, contents: [UInt8]())
        try writer.finish()
        // Prefixed path: 1 header. Long path: PAX header + its data + header. Non-ASCII: the same.
        #expect(out.count == 512 * (1 + 3 + 3 + 2))
        // The prefixed entry has no PAX header in front of it.
        #expect(out[156] == UInt8(ascii: "0"))
        #expect(Array(out[345..<405]) == Array(String(repeating: "p", count: 60).utf8))
        let entries = try TarReader.entries(in: out)
        #expect(entries.map(\.path) == [SampleTree.ustarPrefixPath, SampleTree.paxPath, "é"])
    }

    @Test func ustarFallbackNamesBesidePAXAreHarmless() throws {
        // For readers that ignore PAX: a cut through the middle of this path would begin "../".
        let path = "x/" + String(repeating: "a", count: 98) + "../" + String(repeating: "b", count: 120)
        var out: [UInt8] = []
        let writer = TarWriter(name: "mem") { out += $0 }
        try writer.addFile(path, modificationTime: 0, contents: [UInt8]())
        try writer.addSymlink("x/link", target: "../" + String(repeating: "t", count: 130), modificationTime: 0)
        try writer.finish()
        // Blocks: PAX header, PAX data, file header; PAX header, PAX data, link header; end.
        let fileName = out[(2 * 512)..<(2 * 512 + 100)].prefix { $0 != 0 }
        #expect(Array(fileName) == Array(String(repeating: "b", count: 99).utf8))
        let linkHeader = 5 * 512
        #expect(out[linkHeader + 156] == UInt8(ascii: "2"))
        #expect(out[(linkHeader + 157)..<(linkHeader + 257)].allSatisfy { $0 == 0 }, "no truncated link target")
        #expect(try TarReader.entries(in: out).map(\.path) == [path, "x/link"])
    }

    @Test func streamingWriterRoundTripsThroughReader() throws {
        var out: [UInt8] = []
        let writer = TarWriter(name: "mem") { out += $0 }
        try writer.addDirectory("a", modificationTime: 7)
        try writer.addFile("a/x.sh", executable: true, modificationTime: 7, contents: Array("echo\n".utf8))
        try writer.addSymlink("a/link", target: "x.sh", modificationTime: 7)
        let long = String(repeating: "t", count: 150)
        try writer.addSymlink("a/long-link", target: long, modificationTime: 7)
        let summary = try writer.finish()
        #expect(summary.entryCount == 4)
        #expect(summary.byteCount == Int64(out.count))
        #expect(summary.sha256 == SHA256.hexDigest(of: out))

        let reader = TarReader(bytes: out)
        let dir = try #require(try reader.next())
        #expect(dir.path == "a/" && dir.kind == .directory && dir.mode == 0o755 && dir.modificationTime == 7)
        let file = try #require(try reader.next())
        #expect(file.path == "a/x.sh" && file.kind == .file && file.mode == 0o755 && file.size == 5)
        #expect(try reader.readData(limit: 100) == Array("echo\n".utf8))
        let link = try #require(try reader.next())
        #expect(link.kind == .symbolicLink && link.linkTarget == "x.sh" && link.mode == 0o777)
        let longLink = try #require(try reader.next())
        #expect(longLink.linkTarget == long)
        #expect(try reader.next() == nil)
    }

    @Test func fileContentsAreStreamedFromADescriptor() throws {
        let scratch = try TemporaryDirectory(prefix: "swiftfl-archive")
        defer { scratch.remove() }
        let bytes = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 / 3) }
        let path = try scratch.write("f", bytes)
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        var out: [UInt8] = []
        let writer = TarWriter(name: "mem") { out += $0 }
        try writer.addFile("f", executable: false, modificationTime: 0, size: Int64(bytes.count), contentsOf: fd)
        try writer.finish()
        let reader = TarReader(bytes: out)
        _ = try reader.next()
        #expect(try reader.readData(limit: 1 << 20) == bytes)
    }

    @Test func fileThatChangesSizeIsAnError() throws {
        let scratch = try TemporaryDirectory(prefix: "swiftfl-archive")
        defer { scratch.remove() }
        let path = try scratch.write("f", Array("12345".utf8))
        for claimed: Int64 in [4, 6] {
            let fd = open(path, O_RDONLY)
            defer { close(fd) }
            let writer = TarWriter(name: "mem") { _ in }
            #expect {
                try writer.addFile("f", executable: false, modificationTime: 0, size: claimed, contentsOf: fd)
            } throws: { error in
                (error as? ArchiveError)?.rule == .fileChanged(expected: claimed)
            }
        }
    }

    @Test func includeFilterAndTheArchiveItselfAreLeftOut() throws {
        let scratch = try TemporaryDirectory(prefix: "swiftfl-archive")
        defer { scratch.remove() }
        let source = try SampleTree.make(in: scratch, "src")
        try scratch.write("src/.git/config", "x")
        try scratch.write("src/secret.key", "key")
        var seen: [String: Bool] = [:]
        // The archive is written inside the tree it archives.
        let summary = try TarWriter.archive(directory: source, to: source + "/ws.tar", modificationTime: 0) { path, isDirectory in
            seen[path] = isDirectory
            return path != ".git" && !path.hasSuffix(".key") && path != "src"
        }
        #expect(seen[".git"] == true)
        #expect(seen["secret.key"] == false)
        #expect(seen[".git/config"] == nil, "an excluded directory's contents are not visited")
        #expect(seen["ws.tar"] == nil && seen.keys.allSatisfy { !$0.hasPrefix("ws.tar") })
        let names = try TarReader.entries(in: Array(try Data(contentsOf: URL(fileURLWithPath: source + "/ws.tar")))).map(\.path)
        #expect(names.count == summary.entryCount)
        #expect(!names.contains { $0.hasPrefix(".git") || $0.hasSuffix(".key") || $0.hasPrefix("src") || $0.hasPrefix("ws.tar") })
        #expect(names.contains("plan/plan.yaml"))
    }

    @Test func symlinksSkippedByDefaultStoredOnRequestAndCheckedWhenStored() throws {
        let scratch = try TemporaryDirectory(prefix: "swiftfl-archive")
        defer { scratch.remove() }
        let source = try scratch.makeDirectory("src")
        try scratch.write("src/lib/tool.sh", "echo\n")
        try FileManager.default.createSymbolicLink(atPath: source + "/tool", withDestinationPath: "lib/tool.sh")
        let skipped = try TarWriter.archive(directory: source, to: scratch.appending("a.tar"), modificationTime: 0)
        #expect(skipped.entryCount == 2)
        try TarWriter.archive(directory: source, to: scratch.appending("b.tar"), modificationTime: 0, symlinks: .store)
        let entries = try TarReader.entries(in: Array(try Data(contentsOf: URL(fileURLWithPath: scratch.appending("b.tar")))))
        #expect(entries.map(\.path) == ["lib/", "lib/tool.sh", "tool"])
        #expect(entries[2].kind == .symbolicLink && entries[2].linkTarget == "lib/tool.sh")

        try FileManager.default.createSymbolicLink(atPath: source + "/etc", withDestinationPath: "/etc")
        #expect {
            try TarWriter.archive(directory: source, to: scratch.appending("c.tar"), modificationTime: 0, symlinks: .store)
        } throws: { error in
            let e = error as? ArchiveError
            return e?.rule == .absoluteLinkTarget("/etc") && e?.entryName == "etc"
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.appending("c.tar")))
    }

    @Test func specialFilesAreErrorsAndLeaveNoArchive() throws {
        let scratch = try TemporaryDirectory(prefix: "swiftfl-archive")
        defer { scratch.remove() }
        let source = try scratch.makeDirectory("src")
        try scratch.write("src/a.txt", "a")
        #expect(mkfifo(source + "/pipe", 0o644) == 0)
        let archive = scratch.appending("ws.tar")
        #expect {
            try TarWriter.archive(directory: source, to: archive, modificationTime: 0)
        } throws: { error in
            (error as? ArchiveError)?.rule == .unsupportedFile("FIFO")
                && "\(error)" == "\(archive): \"pipe\": cannot archive a FIFO"
        }
        #expect(scratch.list() == ["src"], "no archive and no temporary file left")
        // Excluding it makes the tree archivable.
        let summary = try TarWriter.archive(directory: source, to: archive, modificationTime: 0) { path, _ in path != "pipe" }
        #expect(summary.entryCount == 1)
    }

    @Test(arguments: [
        ("../x", ArchiveError.Rule.parentComponent),
        ("/abs", .absolutePath),
        ("", .emptyPath),
        ("./", .emptyPath),
        ("a\u{0}b", .nulInPath),
    ])
    func writerRefusesPathsTheExtractorWould(path: String, rule: ArchiveError.Rule) {
        let writer = TarWriter(name: "mem") { _ in }
        #expect {
            try writer.addFile(path, modificationTime: 0, contents: [UInt8]())
        } throws: { error in
            (error as? ArchiveError)?.rule == rule
        }
    }

    @Test func modificationTimeMustFitUstar() {
        let writer = TarWriter(name: "mem") { _ in }
        for time in [-1, 1 << 33] {
            #expect {
                try writer.addDirectory("d", modificationTime: time)
            } throws: { error in
                (error as? ArchiveError)?.rule == .modificationTimeOutOfRange(time)
            }
        }
    }
}
