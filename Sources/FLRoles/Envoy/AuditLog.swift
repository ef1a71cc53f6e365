import Foundation
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
        /// An analytics query was answered (`query` holds it; `experiment` is `analytics:<id>`;
        /// `withheld` lists the cells and bins kept back). A query refused whole is `refused`.
        case answered
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
    /// For an analytics query: the query itself, and what the site withheld from its answer.
    public var query: AnalyticsQuery?
    public var withheld: [String]?

    public init(time: Date = Date(), experiment: String, sha256: String, decision: Decision, reason: String = "", exitStatus: String? = nil,
                launch: Int = 0, query: AnalyticsQuery? = nil, withheld: [String]? = nil) {
        self.query = query
        self.withheld = withheld
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
/// collaborator it ran with its exit status, as JSON lines (a `JSONLinesFile`: one write and an
/// fsync each), so the file can be read (or shipped) while it grows and the trail survives a crash.
public final class AuditLog: Sendable {
    private let file: JSONLinesFile
    public var path: String { file.path }

    public init(path: String) throws {
        file = try JSONLinesFile(path: path, permissions: 0o640, operation: "open the audit log")
    }

    /// Appends one record, synced to disk.
    public func append(_ record: AuditRecord) throws {
        try file.append([record])
    }

    /// Every record of an audit log, in order (a torn last line is dropped; any other bad line throws).
    public static func read(_ path: String) throws -> [AuditRecord] {
        let decoder = JSONCoding.decoder()
        return try JSONLinesFile.lines(in: path).enumerated().map { i, line in
            do { return try decoder.decode(AuditRecord.self, from: Data(line.utf8)) } catch {
                throw FileError(path: path, operation: "read the audit log", reason: "line \(i + 1): \(error)")
            }
        }
    }
}
