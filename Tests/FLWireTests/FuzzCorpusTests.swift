import Foundation
import Testing
import FLCore
@testable import FLWire
import FLArchive

/// Replays the committed fuzz corpora (seeds, and in `regressions/` every input a fuzzer once
/// crashed on) through the same entry points `fx-fuzz` drives, so `make test` catches a decoder
/// that traps again. A trap ends the test process, which fails the run as surely as an issue does.
@Suite struct FuzzCorpusTests {
    static let targets: [String: @Sendable ([UInt8]) throws(FuzzFinding) -> Void] = [
        "frame": { (bytes: [UInt8]) throws(FuzzFinding) in try WireFuzzTargets.frames(bytes) },
        "message": { (bytes: [UInt8]) throws(FuzzFinding) in try WireFuzzTargets.message(bytes) },
        "archive": { (bytes: [UInt8]) throws(FuzzFinding) in try ArchiveFuzzTarget.archive(bytes) },
        "http": { (bytes: [UInt8]) throws(FuzzFinding) in try HTTPFuzzTarget.run(bytes) },
    ]

    @Test(arguments: ["frame", "message", "archive", "http"])
    func replay(target: String) throws {
        let run = try #require(FuzzCorpusTests.targets[target])
        let files = try FuzzCorpus.files(of: target)
        try #require(!files.isEmpty, "Tests/FuzzCorpus/\(target) holds no inputs")
        for file in files {
            let bytes = try FuzzCorpus.contents(file)
            do {
                try run(bytes)
            } catch {
                Issue.record("\(file): \(error)")
            }
        }
    }

    /// Seeds not named `edge-…` (nor in `regressions/`) are well-formed inputs: they must still decode
    /// completely, so a change to the wire or archive format cannot leave the fuzzer starting from
    /// inputs that no longer get past the first check.
    @Test(arguments: ["frame", "message", "archive", "http"])
    func wellFormedSeedsDecode(target: String) throws {
        let seeds = try FuzzCorpus.files(of: target).filter { path in
            !(path as NSString).lastPathComponent.hasPrefix("edge-") && !path.contains("/regressions/")
        }
        try #require(!seeds.isEmpty, "Tests/FuzzCorpus/\(target) holds no well-formed seed")
        for seed in seeds {
            let bytes = try FuzzCorpus.contents(seed)
            #expect(throws: Never.self, "\(seed)") {
                switch target {
                case "frame": try FuzzCorpus.readAllFrames(bytes)
                case "message": _ = try MessageRegistry.decode(type: MessageRegistry.all[Int(bytes[0]) % MessageRegistry.all.count].type.rawValue,
                                                              payload: Array(bytes.dropFirst()))
                case "http":
                    guard case .request = try HTTPRequestParser.parse(bytes, limits: HTTPFuzzTarget.limits) else {
                        throw HTTPRequestError(400, "incomplete")
                    }
                default: _ = try ArchiveExtractor.check(bytes: bytes)
                }
            }
        }
    }
}

/// The committed corpus folders, found from this file's path.
enum FuzzCorpus {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("FuzzCorpus").path

    /// Every regular file under `Tests/FuzzCorpus/<target>`, subfolders included, sorted.
    static func files(of target: String) throws -> [String] {
        let folder = "\(root)/\(target)"
        var files: [String] = []
        for relative in try FileManager.default.subpathsOfDirectory(atPath: folder) {
            let path = "\(folder)/\(relative)"
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
                files.append(path)
            }
        }
        return files.sorted()
    }

    /// Reads every frame to a clean end of stream, each announced stream as float32 data.
    static func readAllFrames(_ bytes: [UInt8]) throws {
        let channel = FrameChannel(stream: MemoryByteStream(incoming: bytes), limits: WireFuzzTargets.frameLimits)
        while let frame = try channel.readMessage(deadline: .never) {
            guard frame.header.flags.contains(.stream) else { continue }
            let floats = try InboundStream(channel: channel, id: frame.header.id, byteCount: frame.streamLength, idleTimeout: 1).readFloats()
            #expect(floats.count * 4 == frame.streamLength)
        }
    }

    static func contents(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }
}
