#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FLCore
import Testing
import FLTesting
@testable import FLArchive
import FLPKI

// Helpers shared by the archive tests (scratch folders are FLTesting's TemporaryDirectory): running GNU tar / Python / sha256sum,
// small file-tree utilities. The tests at the bottom check the helpers themselves.

/// A scratch directory under the system temporary directory, removed by `remove()`.
struct ToolError: Error, CustomStringConvertible {
    var description: String
}

/// Output of a finished child process.
struct RunResult {
    var status: ChildProcess.Status
    var standardOutput: String
    var standardError: String
}

enum Tools {
    /// The absolute path of `name` on PATH, or nil.
    static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Runs `executable` to completion (30 s at most) with output captured through files.
    static func run(_ executable: String, _ arguments: [String], in directory: String? = nil) throws -> RunResult {
        let scratch = try TemporaryDirectory(prefix: "swiftfl-archive")
        defer { scratch.remove() }
        let out = scratch.appending("stdout"), err = scratch.appending("stderr")
        let child = try ChildProcess(executable: executable, arguments: arguments, workingDirectory: directory,
                                     standardOutput: .file(out), standardError: .file(err))
        guard let status = child.wait(timeout: 30) else {
            child.kill()
            throw ToolError(description: "\(executable) did not finish in 30 s")
        }
        let read = { (p: String) in (try? String(contentsOfFile: p, encoding: .utf8)) ?? "" }
        return RunResult(status: status, standardOutput: read(out), standardError: read(err))
    }

    static let tar = "/usr/bin/tar"

    /// Runs GNU tar and requires success.
    @discardableResult
    static func gnuTar(_ arguments: [String], in directory: String? = nil) throws -> String {
        let result = try run(tar, arguments, in: directory)
        #expect(result.status.isSuccess, "tar \(arguments): \(result.status): \(result.standardError)")
        return result.standardOutput
    }

    /// python3's absolute path; records a failure naming the problem when it is missing.
    static func python() throws -> String {
        guard let python = find("python3") else {
            Issue.record("python3 is not on PATH; the Python interoperability test needs it")
            throw ToolError(description: "python3 is not on PATH")
        }
        return python
    }
}

/// Every regular file, directory and symbolic link under `root`, as relative path -> description
/// (contents, mode bits, link targets), for comparing two extracted trees.
func treeSnapshot(_ root: String) throws -> [String: String] {
    var out: [String: String] = [:]
    let fm = FileManager.default
    guard let enumerator = fm.enumerator(atPath: root) else { return out }
    while let relative = enumerator.nextObject() as? String {
        let full = root + "/" + relative
        var st = stat()
        guard lstat(full, &st) == 0 else { continue }
        switch st.st_mode & S_IFMT {
        case S_IFDIR:
            out[relative] = "dir \(String(st.st_mode & 0o7777, radix: 8))"
        case S_IFREG:
            let data = try Data(contentsOf: URL(fileURLWithPath: full))
            out[relative] = "file \(String(st.st_mode & 0o7777, radix: 8)) \(SHA256.hexDigest(of: data))"
        case S_IFLNK:
            out[relative] = "link \(try fm.destinationOfSymbolicLink(atPath: full))"
        default:
            out[relative] = "other"
        }
    }
    return out
}

@Suite("Archive test support")
struct ArchiveTestSupportTests {
    @Test func scratchDirectoryWritesListsAndRemoves() throws {
        let scratch = try TemporaryDirectory(prefix: "swiftfl-archive")
        try scratch.write("a/b.txt", "hello", mode: 0o755)
        #expect(scratch.list() == ["a"])
        let snapshot = try treeSnapshot(scratch.path)
        #expect(snapshot["a/b.txt"] == "file 755 \(SHA256.hexDigest(of: Array("hello".utf8)))")
        scratch.remove()
        #expect(!FileManager.default.fileExists(atPath: scratch.path))
    }

    @Test func runCapturesOutputAndStatus() throws {
        let ok = try Tools.run("/bin/sh", ["-c", "echo out; echo err >&2; exit 3"])
        #expect(ok.status == .exited(3))
        #expect(ok.standardOutput == "out\n")
        #expect(ok.standardError == "err\n")
    }
}
