#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import FLCore

/// One line of a site's audit log.
public struct AuditRecord: Sendable, Hashable, Codable {
    public enum Decision: String, Sendable, Hashable, Codable {
        /// The policy allowed the archive; it was unpacked.
        case accepted
        /// The policy refused it (or it could not be fetched or unpacked): it did not run here.
        case refused
        /// A collaborator was started on the site's data.
        case started
        /// That collaborator ended (`exit_status` says how).
        case finished
    }

    /// ISO 8601, UTC.
    public var time: String
    public var experiment: String
    public var sha256: String
    public var decision: Decision
    public var reason: String
    /// How the collaborator ended, for `finished`.
    public var exit_status: String?
    /// Which start of the experiment's aggregator it ran against (0 for decisions on an offer).
    public var launch: Int

    public init(time: Date = Date(), experiment: String, sha256: String, decision: Decision, reason: String = "", exitStatus: String? = nil,
                launch: Int = 0) {
        self.time = ISO8601DateFormatter().string(from: time)
        self.experiment = experiment
        self.sha256 = sha256
        self.decision = decision
        self.reason = reason
        self.exit_status = exitStatus
        self.launch = launch
    }
}

/// A site's audit log: every experiment it was offered, accepted or refused, and every
/// collaborator it ran with its exit status, as JSON lines appended with one write each, so the
/// file can be read (or shipped) while it grows and a crash loses at most the line being written.
public final class AuditLog: Sendable {
    public let path: String
    private let fd: Mutex<Int32>

    public init(path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw FileError(path: path, operation: "open the audit log", errno: errno) }
        self.path = path
        self.fd = Mutex(fd)
    }

    deinit { fd.withLock { _ = close($0) } }

    /// Appends one record (and syncs it: the audit trail must survive a crash).
    public func append(_ record: AuditRecord) throws {
        var line = try JSONCoding.encoder(.line).encode(record)
        line.append(0x0A)
        try fd.withLock { fd in
            try FileDescriptorIO.writeAll(fd, line, path: path)
            _ = fsync(fd)
        }
    }

    /// Every record of an audit log, in order.
    public static func read(_ path: String) throws -> [AuditRecord] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let decoder = JSONCoding.decoder()
        return try text.split(separator: "\n").enumerated().map { i, line in
            do { return try decoder.decode(AuditRecord.self, from: Data(line.utf8)) } catch {
                throw FileError(path: path, operation: "read the audit log", reason: "line \(i + 1): \(error)")
            }
        }
    }
}
