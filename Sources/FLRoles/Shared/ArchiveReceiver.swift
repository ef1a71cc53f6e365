#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FLCore
import FLWire
import FLPKI

/// Receiving and checking workspace archives, shared by the Director (submissions) and the Envoy
/// (archives it fetches).
enum ArchiveReceiver {
    /// Reads the whole stream into a new file at `path` through one buffer, and returns the bytes' SHA-256 (hex).
    static func receive(_ stream: InboundStream, to path: String) throws -> String {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FileError(path: path, operation: "create", errno: errno) }
        defer { close(fd) }
        var hash = SHA256()
        var buffer = [UInt8](repeating: 0, count: min(max(stream.remaining, 1), 1 << 20))
        while stream.remaining > 0 {
            let n = min(stream.remaining, buffer.count)
            try buffer.withUnsafeMutableBytes { raw in
                let part = UnsafeMutableRawBufferPointer(rebasing: raw[0..<n])
                try stream.read(into: part)
                hash.update(UnsafeRawBufferPointer(part))
                try FileDescriptorIO.writeAll(fd, UnsafeRawBufferPointer(part), path: path)
            }
        }
        guard fsync(fd) == 0 else { throw FileError(path: path, operation: "fsync", errno: errno) }
        return hash.hexDigest()
    }

    /// Unpacks the archive into `scratch` (removed afterwards) and reads its plan, so a broken
    /// submission is refused at once, with the plan's own error, rather than when its turn comes.
    /// Refused too: a plan that would run the workspace's code at the Director, paths that leave the
    /// workspace (the plan's own checks), and anything in the folders the aggregator writes or keys live in.
    static func check(_ archive: String, scratch: String, sampleShape: [Int]) throws -> ExperimentPlan {
        try? FileManager.default.removeItem(atPath: scratch)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let plan: ExperimentPlan
        do {
            let workspace = try Workspace.importArchive(archive, into: scratch)
            for folder in Workspace.outputDirectories {
                if let entry = FileManager.default.enumerator(atPath: "\(scratch)/\(folder)")?.nextObject() as? String {
                    throw WorkspaceError("the archive holds \(folder)/\(entry); an exported workspace never holds \(Workspace.outputDirectories.map { "\($0)/" }.joined(separator: ", ")) (the aggregator's outputs and keys)")
                }
            }
            plan = try ExperimentPlan.load(workspace: workspace, installation: try? Installation.locate())
            try plan.checkRunsNoCodeOutsideSites()
        } catch {
            // Name files as the data scientist knows them (plan/plan.yaml), not by the scratch folder.
            throw ErrorReply(.rejected, "\(error)".replacingOccurrences(of: scratch + "/", with: ""))
        }
        let features = sampleShape.reduce(1, *)
        if case let .builtin(builtin) = plan.runner, builtin.architecture.inputCount != features {
            throw ErrorReply(.rejected, "the plan's model takes \(builtin.architecture.inputCount) features (task_runner.settings.input_features), but this federation's samples have shape \(ShardDescriptor.text(sampleShape)) (\(features) features)")
        }
        return plan
    }
}
