#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FLCore
import FLWire
import FLPKI

/// A data scientist's or operator's connection to a Director: submit experiments, follow them,
/// download their models, list the Envoys. Calls block the calling thread (never the Swift
/// concurrency pool's) and each has a deadline.
public final class DirectorClient: Sendable {
    public let director: Endpoint
    let client: FrameClient
    let timeout: Double

    /// Connects over mutual TLS as the identity in `tls` and checks that the server is `directorName`.
    public init(director: Endpoint, directorName: String = "director", tls: TLSConfiguration, connectTimeout: Double = 10,
                timeout: Double = 60) throws {
        self.director = director
        self.timeout = timeout
        let context = try TLSContext(tls, side: .client)
        client = try FrameClient.connect(to: director, expecting: ExpectedPeer(name: directorName, role: .director), context: context,
                                         limits: FrameLimits(maximumStreamSize: 1 << 40), timeout: connectTimeout, idleTimeout: timeout)
    }

    deinit { client.close() }

    public func close() { client.close() }

    /// Exports `workspace` (as `fx workspace export` does) and submits it as experiment `name`,
    /// for `envoys` (empty: every Envoy online when it starts).
    public func submit(workspace: Workspace, name: String, envoys: [String] = []) throws -> ExperimentInfo {
        let directory = FileManager.default.temporaryDirectory.path + "/swiftfl-submit-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let archive = "\(directory)/\(name).tar"
        try workspace.export(to: archive)
        return try submit(archive: archive, name: name, envoys: envoys)
    }

    /// Submits an exported workspace archive as experiment `name` (for `envoys`, or every online
    /// one when empty); returns it as queued.
    public func submit(archive: String, name: String, envoys: [String] = []) throws -> ExperimentInfo {
        let sha256 = try SHA256.hexDigest(ofFile: archive)
        let source = try FileRegionSource(path: archive)
        let reply = try client.call(SubmitExperiment(name: name, sha256: sha256, envoys: envoys), stream: source, timeout: max(timeout, 300))
        return try experiment(from: reply)
    }

    /// Every experiment, in submission order (without per-round records): your own in full,
    /// others' by name and state.
    public func experiments() throws -> [ExperimentInfo] { try experimentList().experiments }

    /// The list with the Director's warning about itself, if any.
    public func experimentList() throws -> ExperimentListReply {
        let reply = try client.call(ExperimentListRequest(), timeout: timeout)
        guard let list = reply as? ExperimentListReply else { throw DirectorError("unexpected answer \(type(of: reply))") }
        return list
    }

    /// One experiment in full.
    public func status(_ name: String) throws -> ExperimentInfo { try statusReport(name).experiment }

    /// One experiment in full, with the Director's warning about itself, if any (its state cannot be saved).
    public func statusReport(_ name: String) throws -> ExperimentStatusReply {
        let reply = try client.call(ExperimentStatusRequest(name: name), timeout: timeout)
        guard let status = reply as? ExperimentStatusReply else { throw DirectorError("unexpected answer \(type(of: reply))") }
        return status
    }

    /// The experiment once its version passes `version`, or as it is after `wait` seconds.
    public func status(_ name: String, after version: UInt64, wait: Double) throws -> ExperimentInfo {
        try experiment(from: try client.call(ExperimentStatusRequest(name: name, afterVersion: version, maximumWaitSeconds: wait),
                                             timeout: wait + timeout))
    }

    /// Follows an experiment until it ends, calling `update` with each new state; returns the last one.
    /// `deadline` bounds the whole wait.
    public func watch(_ name: String, deadline: Deadline = .never, update: (ExperimentInfo) throws -> Void) throws -> ExperimentInfo {
        var info = try status(name)
        try update(info)
        while !info.status.isFinal {
            if deadline.hasPassed { throw TimeoutError("watching experiment '\(name)'") }
            let next = try status(name, after: info.version, wait: min(30, max(0.1, deadline.remainingSeconds)))
            if next.version != info.version { try update(next) }
            info = next
        }
        return info
    }

    /// Downloads the best or last model of `name` to `path` (written atomically); returns its size.
    @discardableResult
    public func model(_ name: String, _ which: ModelChoice, to path: String) throws -> Int {
        let tmp = "\(path).tmp.\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let size: Int = try client.call(ExperimentModelRequest(name: name, which: which), timeout: timeout) { reply, stream in
            guard reply is ExperimentModelReply, let stream else { throw DirectorError("the Director sent no model") }
            let size = stream.byteCount
            _ = try ArchiveReceiver.receive(stream, to: tmp)
            return size
        }
        guard rename(tmp, path) == 0 else { throw FileError(path: path, operation: "rename into place", errno: errno) }
        return size
    }

    /// Cancels a queued or running experiment.
    public func cancel(_ name: String) throws -> ExperimentInfo {
        try experiment(from: try client.call(CancelExperiment(name: name), timeout: timeout))
    }

    /// Every Envoy the Director knows, and the heartbeat period.
    public func envoys() throws -> EnvoyListReply {
        let reply = try client.call(EnvoyListRequest(), timeout: timeout)
        guard let list = reply as? EnvoyListReply else { throw DirectorError("unexpected answer \(type(of: reply))") }
        return list
    }

    private func experiment(from reply: any WireMessage) throws -> ExperimentInfo {
        guard let status = reply as? ExperimentStatusReply else { throw DirectorError("unexpected answer \(type(of: reply))") }
        return status.experiment
    }
}
