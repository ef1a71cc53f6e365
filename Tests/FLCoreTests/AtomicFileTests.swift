#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import FLCore
import FLTesting

@Suite struct AtomicFileTests {
    func inode(_ path: String) -> UInt64? {
        var st = stat()
        return stat(path, &st) == 0 ? UInt64(st.st_ino) : nil
    }

    func names(in directory: TemporaryDirectory) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    }

    @Test func writeLeavesOnlyTheFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try AtomicFile.write(string: "one", to: "\(dir.path)/a.json")
        try AtomicFile.write(string: "two", to: "\(dir.path)/a.json")
        #expect(try names(in: dir) == ["a.json"])
        #expect(try String(contentsOfFile: "\(dir.path)/a.json", encoding: .utf8) == "two")
    }

    /// The aggregator links `last` to the same checkpoint twice after the final validation: the
    /// second link must not leave `last.tmp.<pid>` behind (rename(2) between two links to one inode
    /// does nothing).
    @Test func linkingTwiceToTheSameTargetLeavesNoTemporaryFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let source = try dir.write("round-0001.safetensors", "model")
        let target = "\(dir.path)/last.safetensors"
        try AtomicFile.link(source, to: target)
        try AtomicFile.link(source, to: target)
        #expect(try names(in: dir) == ["last.safetensors", "round-0001.safetensors"])
        #expect(inode(target) == inode(source))
    }

    @Test func linkReplacesAnotherFileAndLeavesNoTemporaryFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let first = try dir.write("round-0001.safetensors", "first")
        let second = try dir.write("round-0002.safetensors", "second")
        let target = "\(dir.path)/last.safetensors"
        try AtomicFile.link(first, to: target)
        try AtomicFile.link(second, to: target)
        #expect(try names(in: dir) == ["last.safetensors", "round-0001.safetensors", "round-0002.safetensors"])
        #expect(inode(target) == inode(second))
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "second")
    }

    @Test func linkFromAMissingFileThrowsNamingItAndLeavesNothing() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let error = try #require(throws: FileError.self) { try AtomicFile.link("\(dir.path)/missing.safetensors", to: "\(dir.path)/best.safetensors") }
        #expect(error.path.hasSuffix("missing.safetensors"))
        #expect(try names(in: dir).isEmpty)
    }

    struct Interrupted: Error {}

    /// A write that fails half way (as a crash would stop it) leaves the old file whole: the new bytes
    /// go to a temporary file that never has the file's name and is removed when the write throws.
    @Test func aWriteThatFailsMidwayLeavesTheOldFileWhole() throws {
        let dir = try TemporaryDirectory()
        let path = dir.appending("state.json")
        try AtomicFile.write(string: "{\"round\":1}", to: path)
        let before = inode(path)
        #expect(throws: Interrupted.self) {
            try AtomicFile.write(to: path) { fd in
                try FileDescriptorIO.writeAll(fd, Data("{\"round\":".utf8), path: path)
                // Mid-write, the name still holds the old file, and the half-written one is elsewhere.
                #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data("{\"round\":1}".utf8))
                #expect(try names(in: dir) == ["state.json", "state.json.tmp.\(getpid())"])
                throw Interrupted()
            }
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data("{\"round\":1}".utf8))
        #expect(inode(path) == before)
        #expect(try names(in: dir) == ["state.json"])
    }

    @Test func aWriteIntoAMissingFolderThrowsAndLeavesNothing() throws {
        let dir = try TemporaryDirectory()
        let error = #expect(throws: FileError.self) { try AtomicFile.write(string: "x", to: dir.appending("missing/state.json")) }
        #expect(error?.operation == "create")
        #expect(try names(in: dir).isEmpty)
    }
}
