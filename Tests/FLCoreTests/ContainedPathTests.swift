#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import FLCore
import FLTesting

@Suite struct ContainedPathTests {
    @Test(arguments: [
        ("", "empty"), ("/etc/passwd", "absolute"), ("~/x", "'~'"), ("../cert/director.key", "'..'"),
        ("save/../../x", "'..'"), ("save/..", "'..'"), (".", "the workspace itself"), ("./", "the workspace itself"), ("a\u{1}b", "control"),
    ])
    func pathsThatLeaveTheirFolderAreRefused(_ path: String, _ reason: String) {
        let problem = ContainedPath.problem(path)
        #expect(problem?.contains(reason) == true, "\(path): \(problem ?? "accepted")")
    }

    @Test(arguments: ["save/best.safetensors", "./logs/metrics.jsonl", "a/b/c", "x..y", "..hidden", "save//x"])
    func relativePathsInsideAreAccepted(_ path: String) {
        #expect(ContainedPath.problem(path) == nil)
    }

    @Test func opensAFileInsideAndNothingThroughALink() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("root/save/model.bin", "model")
        try dir.write("secret.key", "secret")
        let root = "\(dir.path)/root"

        let fd = try ContainedPath.openForReading("save/model.bin", inside: root)
        var bytes = [UInt8](repeating: 0, count: 5)
        #expect(read(fd, &bytes, 5) == 5)
        close(fd)
        #expect(String(decoding: bytes, as: UTF8.self) == "model")
        #expect(ContainedPath.isFile("./save/model.bin", inside: root))

        // A link as the last component, and as a folder on the way: neither is followed.
        try FileManager.default.createSymbolicLink(atPath: "\(root)/save/best.safetensors", withDestinationPath: "\(dir.path)/secret.key")
        try FileManager.default.createSymbolicLink(atPath: "\(root)/out", withDestinationPath: dir.path)
        for path in ["save/best.safetensors", "out/secret.key"] {
            let error = #expect(throws: ContainedPathError.self) { try ContainedPath.openForReading(path, inside: root) }
            #expect(error?.description.contains("symbolic link") == true, "\(error.map { "\($0)" } ?? "")")
            #expect(!ContainedPath.isFile(path, inside: root))
        }
        // Text that leaves the folder is refused before the disk is touched.
        let escape = #expect(throws: ContainedPathError.self) { try ContainedPath.openForReading("../secret.key", inside: root) }
        #expect(escape?.description.contains("'..'") == true)
        // A folder is not a file.
        #expect(throws: ContainedPathError.self) { try ContainedPath.openForReading("save", inside: root) }
        #expect(throws: ContainedPathError.self) { try ContainedPath.openForReading("save/missing", inside: root) }
    }
}
