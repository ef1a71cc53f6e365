#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FLCore
import FLWire
import FLPKI

/// Which archives a site runs.
public enum ArchivePolicy: Sendable, Hashable, CustomStringConvertible {
    /// The default: only workspaces whose task runner is SwiftFL's own (`builtin`, or `noop`), so no
    /// code from a workspace ever runs at the site; the plan's settings are all that travels.
    case builtin
    /// Only archives whose SHA-256 the site's administrator approved (`fx envoy approve`), listed in
    /// this file (see `ArchiveAllowList`), as Fed-BioMed's training-plan approval works. An approved
    /// archive may run its own code (an external task runner).
    case allowList(path: String)
    /// Every archive, whatever it runs: this trusts every user of the federation with code execution
    /// at this site, as this site's user, next to its data. For test federations only.
    case any

    public var description: String {
        switch self {
        case .builtin: "builtin"
        case .any: "any"
        case let .allowList(path): "allow-list \(path)"
        }
    }
}

/// Everything an Envoy needs, from its configuration file (`EnvoySettings.load`) or built in code.
///
/// ```yaml
/// director:
///   name: director          # the common name of the Director's certificate
///   address: 127.0.0.1:50050   # optional: `--director` gives it too
/// cert_dir: cert            # ca.crt, <name>.crt, <name>.key (its collaborators use them too)
/// crl_file: crl.pem         # optional: the CA's revocation list, re-read whenever it changes
/// work_dir: work            # where experiments are unpacked and run
/// data_dir: data            # the shard must be inside this folder
/// shard:
///   format: csv
///   path: hospital_a.csv    # relative to data_dir
///   label_column: label
///   sample_shape: [30]
///   target_shape: [1]
///   description: ""         # optional, shown by `fx envoy list`
/// policy:
///   mode: builtin           # builtin (default: SwiftFL's own training only, no workspace code runs)
///                           # | allowlist (approved archives, which may run their code)
///                           # | any (trusts every submitter with code execution at this site)
///   allowlist: approved.sha256
/// limits:
///   max_archive_bytes: 268435456   # largest workspace archive this site downloads
///   max_model_parameters: 100000000   # largest model this site trains (400 MB of float32)
///   min_statistics_rows: 10   # fewest training rows this site sends feature statistics about
/// analytics:
///   min_count: 10           # fewest rows in any cell (group, histogram bins) this site answers about
/// audit_log: audit.jsonl    # one JSON line per experiment the site ran or refused, and per analytics query
/// capacity: 1               # collaborators (one per experiment) run at once; the Director books no more
/// ```
public struct EnvoySettings: Sendable {
    /// The Envoy's name: the common name of its certificate, and its collaborators' name.
    public var name: String
    public var director: Endpoint
    public var directorName: String
    public var certificateDirectory: String
    /// The CA's certificate revocation list (`crl_file`), checked by the Envoy and its collaborators
    /// on every new connection; nil checks none.
    public var revocationListPath: String?
    public var workDirectory: String
    public var dataDirectory: String
    public var shard: ShardDescriptor
    /// The shard file, absolute, inside `dataDirectory`.
    public var shardPath: String
    public var policy: ArchivePolicy
    /// Largest workspace archive the site downloads (`limits.max_archive_bytes`).
    public var maximumArchiveSize: Int
    /// Largest model the site trains (`limits.max_model_parameters`): a plan is data, but one asking
    /// for a model of billions of parameters would take the site's memory.
    public var maximumModelParameters: Int
    /// Fewest training rows the site sends feature statistics about (`limits.min_statistics_rows`):
    /// sums over a handful of rows say too much about each row.
    public var minimumStatisticsRows: Int = CollaboratorSettings.defaultMinimumStatisticsRows
    /// Fewest rows in any cell an analytics query is answered about (`analytics.min_count`): see
    /// `SmallCellSuppression` for what is withheld.
    public var analyticsMinimumCount: Int = 10
    public var auditLogPath: String
    /// The `fx-collaborator` executable; nil finds it beside the running one.
    public var collaboratorExecutable: String?
    public var longPollSeconds: Double
    public var connectTimeout: Double
    public var idleTimeout: Double
    /// Reconnection waits grow from `initialBackoff` to `maximumBackoff` seconds (with jitter).
    public var initialBackoff: Double
    public var maximumBackoff: Double
    /// How long a collaborator told to stop may take before it is killed.
    public var stopGrace: Double
    /// Collaborators (one per experiment) the site runs at once (`capacity`, 1 by default): told to
    /// the Director at registration, which never books the site for more experiments than this.
    public var capacity = 1

    public init(name: String, director: Endpoint, directorName: String = "director", certificateDirectory: String, workDirectory: String,
                dataDirectory: String, shard: ShardDescriptor, shardPath: String, policy: ArchivePolicy = .builtin,
                maximumArchiveSize: Int = EnvoySettings.defaultMaximumArchiveSize,
                maximumModelParameters: Int = EnvoySettings.defaultMaximumModelParameters, auditLogPath: String,
                collaboratorExecutable: String? = nil, longPollSeconds: Double = 30, connectTimeout: Double = 10, idleTimeout: Double = 60,
                initialBackoff: Double = 0.1, maximumBackoff: Double = 5, stopGrace: Double = 5) {
        self.name = name
        self.director = director
        self.directorName = directorName
        self.certificateDirectory = certificateDirectory
        self.workDirectory = workDirectory
        self.dataDirectory = dataDirectory
        self.shard = shard
        self.shardPath = shardPath
        self.policy = policy
        self.maximumArchiveSize = maximumArchiveSize
        self.maximumModelParameters = maximumModelParameters
        self.auditLogPath = auditLogPath
        self.collaboratorExecutable = collaboratorExecutable
        self.longPollSeconds = longPollSeconds
        self.connectTimeout = connectTimeout
        self.idleTimeout = idleTimeout
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
        self.stopGrace = stopGrace
    }

    /// 256 MiB: a workspace is a plan and some code; data never travels in one.
    public static let defaultMaximumArchiveSize = 256 << 20
    /// 100 million parameters: 400 MB of float32, several copies of which a site holds while training.
    public static let defaultMaximumModelParameters = 100_000_000

    /// The Envoy's TLS identity (its collaborators present the same certificate).
    public var tls: TLSConfiguration {
        TLSConfiguration(certificateDirectory: certificateDirectory, name: name, revocationListPath: revocationListPath)
    }

    /// Reads an Envoy configuration file. `director` (from the command line) overrides `director.address`.
    /// Errors name the file, line and column; a shard outside the data folder is refused.
    public static func load(path: String, name: String, director: Endpoint? = nil) throws -> EnvoySettings {
        do { try PKI.validate(name: name) } catch { throw EnvoyError("--name: \(error)") }
        let file = try ConfigurationFile(path: path)
        try file.checkKeys("", ["director", "cert_dir", "crl_file", "work_dir", "data_dir", "shard", "policy", "limits", "analytics", "audit_log",
                                "capacity"])
        try file.checkKeys("limits", ["max_archive_bytes", "max_model_parameters", "min_statistics_rows"])
        try file.checkKeys("director", ["name", "address"])
        try file.checkKeys("analytics", ["min_count"])
        try file.checkKeys("shard", ["format", "path", "label_column", "sample_shape", "target_shape", "description"])
        let plan = file.plan
        var endpoint = director
        if endpoint == nil, let text = try plan.stringIfPresent("director.address") {
            guard let parsed = Endpoint(text) else { throw file.error("director.address", "expected HOST:PORT, found '\(text)'") }
            endpoint = parsed
        }
        guard let endpoint else {
            throw EnvoyError("\(path): no Director address: give --director HOST:PORT or set director.address")
        }
        let format = try plan.string("shard.format", default: "csv")
        guard format == "csv" else { throw file.error("shard.format", "expected csv, found '\(format)'") }
        let dataDirectory = try file.path("data_dir", default: "data")
        let shardText = try plan.string("shard.path")
        let shardPath = shardText.hasPrefix("/") ? shardText : "\(dataDirectory)/\(shardText)"
        let inside: String
        do {
            inside = try EnvoySettings.resolve(shardPath, inside: dataDirectory)
        } catch let error as EnvoyError {
            throw file.error("shard.path", error.description)
        }
        let shard = ShardDescriptor(format: format, path: shardText, labelColumn: try plan.string("shard.label_column", default: "label"),
                                    sampleShape: try file.shape("shard.sample_shape"), targetShape: try file.shape("shard.target_shape"),
                                    description: try plan.string("shard.description", default: ""))
        let policy = try policy(file)
        let maximumArchiveSize = try plan.int("limits.max_archive_bytes", default: defaultMaximumArchiveSize)
        guard maximumArchiveSize >= 1024 else {
            throw file.error("limits.max_archive_bytes", "expected at least 1024 bytes, found \(maximumArchiveSize)")
        }
        let maximumModelParameters = try plan.int("limits.max_model_parameters", default: defaultMaximumModelParameters)
        guard maximumModelParameters >= 1 else {
            throw file.error("limits.max_model_parameters", "expected at least 1 parameter, found \(maximumModelParameters)")
        }
        var settings = EnvoySettings(name: name, director: endpoint, directorName: try plan.string("director.name", default: "director"),
                                     certificateDirectory: try file.path("cert_dir", default: "cert"),
                                     workDirectory: try file.path("work_dir", default: "work"), dataDirectory: dataDirectory, shard: shard,
                                     shardPath: inside, policy: policy, maximumArchiveSize: maximumArchiveSize,
                                     maximumModelParameters: maximumModelParameters,
                                     auditLogPath: try file.path("audit_log", default: "audit.jsonl"))
        settings.revocationListPath = try file.optionalPath("crl_file")
        settings.minimumStatisticsRows = try plan.int("limits.min_statistics_rows", default: CollaboratorSettings.defaultMinimumStatisticsRows)
        guard settings.minimumStatisticsRows >= 1 else {
            throw file.error("limits.min_statistics_rows", "expected at least 1 row, found \(settings.minimumStatisticsRows)")
        }
        settings.analyticsMinimumCount = try plan.int("analytics.min_count", default: settings.analyticsMinimumCount)
        guard settings.analyticsMinimumCount >= 1 else {
            throw file.error("analytics.min_count", "expected at least 1 row, found \(settings.analyticsMinimumCount)")
        }
        settings.capacity = try plan.int("capacity", default: 1)
        guard (1...EnvoyRegistration.maximumCapacity).contains(settings.capacity) else {
            throw file.error("capacity", "expected 1 to \(EnvoyRegistration.maximumCapacity) collaborators at once, found \(settings.capacity)")
        }
        return settings
    }

    /// The policy of a configuration file, for `fx envoy approve`, which needs nothing else.
    public static func policy(configuration path: String) throws -> ArchivePolicy {
        try policy(try ConfigurationFile(path: path))
    }

    private static func policy(_ file: ConfigurationFile) throws -> ArchivePolicy {
        try file.checkKeys("policy", ["mode", "allowlist"])
        let mode = try file.plan.string("policy.mode", default: "builtin")
        switch mode {
        case "builtin":
            return .builtin
        case "allowlist":
            return .allowList(path: try file.path("policy.allowlist", default: "approved.sha256"))
        case "any":
            return .any
        default:
            throw file.error("policy.mode", "expected builtin, allowlist or any, found '\(mode)'")
        }
    }

    /// `path` with symbolic links resolved, refused unless it is a file inside `directory` (itself resolved).
    static func resolve(_ path: String, inside directory: String) throws -> String {
        guard let base = realPath(directory) else { throw EnvoyError("the data folder \(directory) does not exist") }
        guard let real = realPath(path) else { throw EnvoyError("the shard \(path) does not exist") }
        guard real.hasPrefix(base.hasSuffix("/") ? base : base + "/") else {
            throw EnvoyError("the shard \(path) resolves to \(real), which is outside the data folder \(base)")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: real, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw EnvoyError("the shard \(path) is a folder, not a file")
        }
        return real
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// An Envoy that cannot start, or was turned away for good, with the reason.
public struct EnvoyError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
