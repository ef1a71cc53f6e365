#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FLTesting
import Testing
@testable import FLArchive

/// One hostile archive and what extracting it must report.
struct HostileCase: CustomTestStringConvertible, Sendable {
    var name: String
    var bytes: [UInt8]
    var index: Int
    var rule: ArchiveError.Rule
    var limits = ArchiveLimits()

    var testDescription: String { name }

    static let all: [HostileCase] = [
        HostileCase(name: "absolute path", bytes: RawTar.file("ok.txt", "fine") + RawTar.file("/etc/passwd", "root::0:0") + RawTar.end,
                    index: 1, rule: .absolutePath),
        HostileCase(name: "'..' climbing out", bytes: RawTar.file("a/ok", "x") + RawTar.file("a/../../x", "x") + RawTar.end,
                    index: 1, rule: .parentComponent),
        HostileCase(name: "leading '..'", bytes: RawTar.file("../etc/passwd", "x") + RawTar.end, index: 0, rule: .parentComponent),
        HostileCase(name: "symlink to /etc", bytes: RawTar.header("etc", type: "2", link: "/etc") + RawTar.end,
                    index: 0, rule: .absoluteLinkTarget("/etc")),
        HostileCase(name: "symlink to ../..", bytes: RawTar.header("d/", type: "5") + RawTar.header("d/up", type: "2", link: "../..") + RawTar.end,
                    index: 1, rule: .linkEscapes("../..")),
        HostileCase(name: "symlink '..' through another symlink",
                    bytes: RawTar.header("s", type: "2", link: ".") + RawTar.header("a", type: "2", link: "s/..") + RawTar.end,
                    index: 1, rule: .linkEscapes("s/..")),
        // Lexically d/s/.. is d, but d/s is the root, so d/a would be the root's parent.
        HostileCase(name: "symlink '..' after a symlink that climbs",
                    bytes: RawTar.header("d/", type: "5") + RawTar.header("d/s", type: "2", link: "..")
                        + RawTar.header("d/a", type: "2", link: "s/..") + RawTar.end,
                    index: 2, rule: .linkEscapes("s/..")),
        HostileCase(name: "file written through a symlinked directory",
                    bytes: RawTar.header("sub/", type: "5") + RawTar.header("s", type: "2", link: "sub") + RawTar.file("s/x", "x") + RawTar.end,
                    index: 2, rule: .parentIsSymlink("s")),
        HostileCase(name: "directory made through a symlink",
                    bytes: RawTar.header("sub/", type: "5") + RawTar.header("s", type: "2", link: "sub")
                        + RawTar.header("s/inner/", type: "5") + RawTar.end,
                    index: 2, rule: .parentIsSymlink("s")),
        HostileCase(name: "file replacing an earlier symlink",
                    bytes: RawTar.header("f", type: "2", link: "g") + RawTar.file("f", "x") + RawTar.end, index: 1, rule: .duplicateEntry),
        HostileCase(name: "hard link outside (absolute)",
                    bytes: RawTar.header("h", type: "1", link: "/etc/passwd") + RawTar.end, index: 0, rule: .absoluteLinkTarget("/etc/passwd")),
        HostileCase(name: "hard link outside ('..')",
                    bytes: RawTar.header("h", type: "1", link: "../x") + RawTar.end, index: 0, rule: .linkEscapes("../x")),
        HostileCase(name: "hard link to a file not in the archive",
                    bytes: RawTar.header("h", type: "1", link: "later") + RawTar.file("later", "x") + RawTar.end,
                    index: 0, rule: .hardLinkTargetMissing("later")),
        HostileCase(name: "hard link to a symlink",
                    bytes: RawTar.header("s", type: "2", link: "x") + RawTar.header("h", type: "1", link: "s") + RawTar.end,
                    index: 1, rule: .hardLinkTargetMissing("s")),
        HostileCase(name: "character device", bytes: RawTar.header("null", type: "3") + RawTar.end,
                    index: 0, rule: .unsupportedType("character device")),
        HostileCase(name: "block device", bytes: RawTar.header("sda", type: "4") + RawTar.end, index: 0, rule: .unsupportedType("block device")),
        HostileCase(name: "FIFO", bytes: RawTar.header("p", type: "6") + RawTar.end, index: 0, rule: .unsupportedType("FIFO")),
        HostileCase(name: "unknown type", bytes: RawTar.header("v", type: "V") + RawTar.end, index: 0, rule: .unsupportedType("type 'V'")),
        HostileCase(name: "bad checksum", bytes: RawTar.file("ok", "x") + RawTar.header("f", validChecksum: false) + RawTar.end,
                    index: 1, rule: .badChecksum(stored: 0, computed: 0)),
        HostileCase(name: "size claiming 100 GiB", bytes: RawTar.file("ok", "x") + RawTar.header("huge") { h in
            for i in 124..<136 { h[i] = 0 }
            h[124] = 0x80
            h[131] = 0x19  // 0x19_0000_0000 = 100 GiB
        } + RawTar.end, index: 1, rule: .truncated(needed: 100 << 30, available: 1024)),
        HostileCase(name: "truncated data", bytes: Array((RawTar.file("ok", "x") + RawTar.file("f", String(repeating: "y", count: 3000)))[..<2500]),
                    index: 1, rule: .truncated(needed: 3000, available: 964)),
        HostileCase(name: "non-octal size", bytes: RawTar.header("f") { h in h[130] = UInt8(ascii: "9") } + RawTar.end,
                    index: 0, rule: .badNumber(field: "size", text: "")),
        HostileCase(name: "PAX header claiming a huge length",
                    bytes: RawTar.header("././@PaxHeader", type: "x", size: 2 << 20) + [UInt8](repeating: 0, count: 2 << 20) + RawTar.end,
                    index: 0, rule: .metadataTooLarge(kind: "PAX extended header", size: 2 << 20, limit: 1 << 20)),
        HostileCase(name: "too many entries", bytes: (0..<5).flatMap { RawTar.file("f\($0)", "x") } + RawTar.end,
                    index: 3, rule: .tooManyEntries(limit: 3), limits: ArchiveLimits(maximumEntryCount: 3)),
        HostileCase(name: "total size", bytes: RawTar.file("a", String(repeating: "a", count: 60)) + RawTar.file("b", String(repeating: "b", count: 60)) + RawTar.end,
                    index: 1, rule: .totalSizeExceeded(limit: 100), limits: ArchiveLimits(maximumTotalSize: 100)),
        HostileCase(name: "file size", bytes: RawTar.file("a", String(repeating: "a", count: 60)) + RawTar.end,
                    index: 0, rule: .fileTooLarge(size: 60, limit: 50), limits: ArchiveLimits(maximumFileSize: 50)),
        HostileCase(name: "empty path", bytes: RawTar.file("ok", "x") + RawTar.pax([("path", "")]) + RawTar.file("x", "x") + RawTar.end,
                    index: 1, rule: .emptyPath),
        HostileCase(name: "'.' as a file", bytes: RawTar.file("./", "x") + RawTar.end, index: 0, rule: .emptyPath),
        HostileCase(name: "NUL in path", bytes: RawTar.pax([("path", "a\u{0}b")]) + RawTar.file("x", "x") + RawTar.end,
                    index: 0, rule: .nulInPath),
        HostileCase(name: "duplicate file", bytes: RawTar.file("a", "1") + RawTar.file("./a", "2") + RawTar.end, index: 1, rule: .duplicateEntry),
        HostileCase(name: "file beneath a file", bytes: RawTar.file("a", "1") + RawTar.file("a/b", "2") + RawTar.end,
                    index: 1, rule: .parentIsNotDirectory("a")),
        HostileCase(name: "non-directory ending in '/'", bytes: RawTar.file("a/", "1") + RawTar.end, index: 0, rule: .trailingSlash),
        HostileCase(name: "component too long",
                    bytes: RawTar.pax([("path", String(repeating: "c", count: 256))]) + RawTar.file("x", "1") + RawTar.end,
                    index: 0, rule: .pathTooLong(length: 256, limit: 255)),
    ]
}

/// Compares rules, treating numbers that depend on byte layout (checksums, field text) as wildcards.
func sameRule(_ a: ArchiveError.Rule, _ b: ArchiveError.Rule) -> Bool {
    switch (a, b) {
    case (.badChecksum, .badChecksum): true
    case let (.badNumber(f1, _), .badNumber(f2, _)): f1 == f2
    default: a == b
    }
}

@Suite("ArchiveExtractor")
struct ArchiveExtractorTests {
    @Test(arguments: HostileCase.all)
    func hostileArchivesAreRefusedAndLeaveNothing(_ hostile: HostileCase) throws {
        let archives = try TemporaryDirectory(prefix: "swiftfl-archive")
        let parent = try TemporaryDirectory(prefix: "swiftfl-archive")
        defer { archives.remove(); parent.remove() }
        let archive = try archives.write("ws.tar", hostile.bytes)
        let error = expectArchiveError({
            try ArchiveExtractor.extract(archive: archive, into: parent.appending("ws"), limits: hostile.limits)
        }) { sameRule($0, hostile.rule) }
        #expect(error?.entryIndex == hostile.index)
        #expect(error?.archive == archive)
        #expect(parent.list() == [], "extraction left \(parent.list()) behind")
        // The dry run agrees.
        expectArchiveError({ try ArchiveExtractor.check(bytes: hostile.bytes, limits: hostile.limits) }) { sameRule($0, hostile.rule) }
    }

    @Test func errorsReadAsTheyShould() throws {
        let scratch = try TemporaryDirectory(prefix: "swiftfl-archive")
        defer { scratch.remove() }
        let bytes = RawTar.file("a", "1") + RawTar.file("b", "2") + RawTar.file("c", "3") + RawTar.file("../etc/passwd", "x") + RawTar.end
        let archive = try scratch.write("ws.tar", bytes)
        let error = expectArchiveError({ try ArchiveExtractor.extract(archive: archive, into: scratch.appending("out")) }) { $0 == .parentComponent }
        #expect(error?.description == "\(archive): entry 3 \"../etc/passwd\": path climbs out of the destination ('..' component)")
        // Hostile names cannot break the line they are printed on.
        let printed = ArchiveError(archive: "ws.tar", entryIndex: 0, entryName: "a\nb\u{1b}[31m\"", rule: .emptyPath).description
        #expect(printed == "ws.tar: entry 0 \"a\\nb\\u{1b}[31m\\\"\": path is empty")
    }

    @Test func roundTripKeepsContentModesAndNames() throws {
        let scratch = try TemporaryDirectory(prefix: "swiftfl-archive")
        defer { scratch.remove() }
        let source = try SampleTree.make(in: scratch, "src")
        let archive = scratch.appending("ws.tar")
        try TarWriter.archive(directory: source, to: archive, modificationTime: 0)
        let destination = scratch.appending("out")
        let summary = try ArchiveExtractor.extract(archive: archive, into: destination)
        #expect(try treeSnapshot(destination) == (try treeSnapshot(source)))
        #expect(summary.entryCount == SampleTree.entries.count)
        #expect(summary.fileCount == SampleTree.entries.filter { !$0.hasSuffix("/") }.count)
        let sizes = try FileManager.default.subpathsOfDirectory(atPath: source).compactMap { path -> Int64? in
            let attributes = try FileManager.default.attributesOfItem(atPath: source + "/" + path)
            return attributes[.type] as? FileAttributeType == .typeRegular ? Int64(attributes[.size] as! UInt64) : nil
        }
        #expect(summary.byteCount == sizes.reduce(0, +))
        #expect(summary.byteCount > 150_000)
        var st = stat()
        #expect(stat(destination, &st) == 0 && st.st_mode & 0o7777 == 0o755)
        #expect(scratch.list() == ["out", "src", "ws.tar"], "no staging directory left")
    }

    @Test func gnuTarArchiveWithRootEntryExtracts() throws {
        let scratch = try TemporaryDirectory(prefix: "swiftfl-archive")
        defer { scratch.remove() }
        let source = try SampleTree.make(in: scratch, "src")
        try FileManager.default.createSymbolicLink(atPath: source + "/src/link.py", withDestinationPath: "model.py")
        try FileManager.default.createSymbolicLink(atPath: source + "/up", withDestinationPath: "src/deep/../deep")
        link(source + "/run.sh", source + "/run-again.sh")
        let archive = scratch.appending("gnu.tar")
        try Tools.gnuTar(["--format=gnu", "-cf", archive, "-C", source, "."])
        // GNU tar keeps "src/deep/../deep", which could climb out through a symlink: refused.
        expectArchiveError({ try ArchiveExtractor.extract(archive: archive, into: scratch.appending("refused")) }) {
            $0 == .linkEscapes("src/deep/../deep")
        }
        try FileManager.default.removeItem(atPath: source + "/up")
        try Tools.gnuTar(["--format=gnu", "-cf", archive, "-C", source, "."])
        let destination = scratch.appending("out")
        let summary = try ArchiveExtractor.extract(archive: archive, into: destination)
        #expect(try treeSnapshot(destination) == (try treeSnapshot(source)))
        #expect(summary.linkCount == 2)
        var a = stat(), b = stat()
        #expect(stat(destination + "/run.sh", &a) == 0 && stat(destination + "/run-again.sh", &b) == 0)
        #expect(a.st_ino == b.st_ino, "hard link extracted as a link")
    }

    @Test func linksInsideTheDestinationAreKept() throws {
        let scratch = try TemporaryDirectory(prefix: "swiftfl-archive")
        defer { scratch.remove() }
        let bytes = RawTar.header("lib/", type: "5") + RawTar.file("lib/tool.sh", "echo\n", mode: "0000755")
            + RawTar.header("bin/tool", type: "2", link: "../lib/tool.sh")
            + RawTar.header("here", type: "2", link: "./")
            + RawTar.header("lib/same.sh", type: "1", link: "./lib/tool.sh")
            + RawTar.end
        let archive = try scratch.write("ws.tar", bytes)
        let out = scratch.appending("out")
        try ArchiveExtractor.extract(archive: archive, into: out)
        #expect(try String(contentsOfFile: out + "/bin/tool", encoding: .utf8) == "echo\n")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: out + "/here") == "./")
        #expect(try String(contentsOfFile: out + "/lib/same.sh", encoding: .utf8) == "echo\n")
        var st = stat()
        #expect(stat(out + "/bin", &st) == 0 && st.st_mode & 0o7777 == 0o755, "implicit parent made 0755")
    }

    @Test func specialModeBitsAreDropped() throws {
        let scratch = try TemporaryDirectory(prefix: "swiftfl-archive")
        defer { scratch.remove() }
        let bytes = RawTar.header("d/", type: "5", mode: "0001777") + RawTar.file("d/suid", "x", mode: "0004755")
            + RawTar.file("d/sgid", "x", mode: "0002640") + RawTar.file("d/group-exec", "x", mode: "0000610") + RawTar.end
        let archive = try scratch.write("ws.tar", bytes)
        let out = scratch.appending("out")
        try ArchiveExtractor.extract(archive: archive, into: out)
        let snapshot = try treeSnapshot(out)
        #expect(snapshot["d"] == "dir 755")
        #expect(snapshot["d/suid"]?.hasPrefix("file 755 ") == true)
        #expect(snapshot["d/sgid"]?.hasPrefix("file 644 ") == true)
        #expect(snapshot["d/group-exec"]?.hasPrefix("file 755 ") == true)
    }

    @Test func destinationMustBeMissingOrAnEmptyDirectory() throws {
        let scratch = try TemporaryDirectory(prefix: "swiftfl-archive")
        defer { scratch.remove() }
        let archive = try scratch.write("ws.tar", RawTar.file("a", "1") + RawTar.end)
        // An empty directory is replaced.
        let empty = try scratch.makeDirectory("empty")
        try ArchiveExtractor.extract(archive: archive, into: empty + "/")
        #expect(try String(contentsOfFile: empty + "/a", encoding: .utf8) == "1")
        // A directory with something in it, and a file, are refused untouched.
        let full = try scratch.makeDirectory("full")
        try scratch.write("full/keep", "k")
        let file = try scratch.write("file", "f")
        for destination in [full, file] {
            expectArchiveError({ try ArchiveExtractor.extract(archive: archive, into: destination) }) {
                $0 == .destinationExists(destination)
            }
        }
        #expect(scratch.list("full") == ["keep"])
        // A symlink to an empty directory is refused too (it is not a directory itself).
        try scratch.makeDirectory("target")
        try FileManager.default.createSymbolicLink(atPath: scratch.appending("alias"), withDestinationPath: "target")
        expectArchiveError({ try ArchiveExtractor.extract(archive: archive, into: scratch.appending("alias")) }) {
            $0 == .destinationExists(scratch.appending("alias"))
        }
        // A missing parent is a file-system error, and nothing is created.
        expectArchiveError({ try ArchiveExtractor.extract(archive: archive, into: scratch.appending("no/such/dir")) }) {
            if case .fileSystem = $0 { return true } else { return false }
        }
        #expect(scratch.list() == ["alias", "empty", "file", "full", "target", "ws.tar"])
    }

    @Test func repeatedDirectoriesAndRootEntryAreAccepted() throws {
        let bytes = RawTar.header("./", type: "5") + RawTar.file("d/f", "1") + RawTar.header("d/", type: "5")
            + RawTar.header("./d", type: "5") + RawTar.end
        let summary = try ArchiveExtractor.check(bytes: bytes)
        #expect(summary.entryCount == 4 && summary.fileCount == 1 && summary.directoryCount == 0)
    }

    @Test func manyEntriesWithDeepPathsStayFast() throws {
        // 1000 entries n levels deep: the policy's cost is linear in path length, not quadratic, so
        // four times the depth costs about four times the CPU (sixteen if it were quadratic).
        func archive(depth: Int) -> [UInt8] {
            let deep = Array(repeating: "d", count: depth).joined(separator: "/")
            var bytes: [UInt8] = []
            for i in 0..<1000 { bytes += RawTar.pax([("path", "\(deep)/f\(i)")]) + RawTar.header("x") }
            return bytes + RawTar.end
        }
        let shallow = archive(depth: 100), deep = archive(depth: 400)
        #expect(try ArchiveExtractor.check(bytes: deep).fileCount == 1000)
        let small = try ThreadCPUTime.best { _ = try ArchiveExtractor.check(bytes: shallow) }
        let large = try ThreadCPUTime.best { _ = try ArchiveExtractor.check(bytes: deep) }
        #expect(large / max(small, 1e-3) < 8, "depth 100: \(small) s, depth 400: \(large) s")
    }

    /// A process that dies mid-extraction leaves its staging directory; the owner of the
    /// destination's parent removes such leftovers when it starts, and nothing else.
    @Test func leftoverStagingDirectoriesAreRemovedAndNothingElse() throws {
        let scratch = try TemporaryDirectory(prefix: "swiftfl-archive")
        defer { scratch.remove() }
        let source = try SampleTree.make(in: scratch, "src")
        let archive = scratch.appending("ws.tar")
        try TarWriter.archive(directory: source, to: archive, modificationTime: 0)
        let leftover = try makeStagingLeftover(in: scratch.path)
        // Look-alikes that are not staging directories: kept.
        _ = try scratch.makeDirectory(".workspace.extract-abc")
        _ = try scratch.makeDirectory("workspace.extract-abcdef")
        _ = try scratch.write(".notes.extract-abcdef", [0])
        #expect(symlink(source, scratch.appending(".link.extract-abcdef")) == 0)
        #expect(ArchiveExtractor.removeLeftovers(in: scratch.path) == [leftover])
        #expect(scratch.list() == [".link.extract-abcdef", ".notes.extract-abcdef", ".workspace.extract-abc", "src", "workspace.extract-abcdef", "ws.tar"])
        #expect(!scratch.list("src").isEmpty, "the link was followed")
        // Extraction works as before, and leaves nothing to clean.
        try ArchiveExtractor.extract(archive: archive, into: scratch.appending("workspace"))
        #expect(try treeSnapshot(scratch.appending("workspace")) == (try treeSnapshot(source)))
        #expect(ArchiveExtractor.removeLeftovers(in: scratch.path).isEmpty)
    }

    /// The layout of an Envoy's and a Director's experiments: one folder each, the workspace inside.
    @Test func leftoversAreRemovedFromEveryExperimentsFolder() throws {
        let scratch = try TemporaryDirectory(prefix: "swiftfl-archive")
        defer { scratch.remove() }
        let a = try makeStagingLeftover(in: scratch.makeDirectory("experiments/a"))
        let b = try makeStagingLeftover(in: scratch.makeDirectory("experiments/b"))
        _ = try scratch.write("experiments/b/archive.tar", [0])
        _ = try scratch.write("experiments/notes.txt", [0])
        #expect(ArchiveExtractor.removeLeftovers(inFoldersOf: scratch.appending("experiments")) == [a, b])
        #expect(scratch.list("experiments") == ["a", "b", "notes.txt"])
        #expect(scratch.list("experiments/a").isEmpty && scratch.list("experiments/b") == ["archive.tar"])
    }

    /// What a crash leaves: a staging directory for `workspace`, as mkdtemp names it, with a file in it.
    private func makeStagingLeftover(in parent: String) throws -> String {
        var template = Array("\(parent)/\(ArchiveExtractor.stagingTemplate(for: "workspace"))".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else { throw ToolError(description: "mkdtemp failed") }
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: "\(path)/half.bin"))
        return path
    }
}
