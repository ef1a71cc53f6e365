import Foundation
import FLCore
import FLWire
import FLPKI

/// Everything a Director needs, from its configuration file (`DirectorSettings.load`) or built in code.
///
/// ```yaml
/// listen:               # where Envoys and data scientists connect
///   host: 127.0.0.1
///   port: 50050         # 0 picks a free port
/// federation:           # what every Envoy's shard must look like
///   sample_shape: [30]
///   target_shape: [1]
/// envoys:
///   heartbeat_period: 5 # seconds; an Envoy that misses 3 is offline
///   minimum: 1          # Envoys online before an experiment starts
///   startup_grace: 30   # after a start, seconds to wait for known Envoys to come back
///   decision_timeout: 60 # seconds an offered Envoy has to accept or refuse
///   allowed: [hospital_a, hospital_b, hospital_c]   # optional: which envoy certificates may register
/// users:
///   allowed: [alice]    # optional: which user and admin certificates may submit and follow experiments
/// state_dir: state
/// certificates:
///   dir: cert           # ca.crt, director.crt/.key, and the aggregators' aggregator.crt/.key
///   name: director      # the Director's certificate (role director)
///   aggregator: aggregator   # the certificate every aggregator it starts presents (role aggregator)
///   crl_file: ../ca/crl.pem  # optional: the CA's revocation list, re-read whenever it changes
/// limits:
///   max_archive_bytes: 1073741824   # largest workspace archive accepted
/// aggregators:
///   host: 127.0.0.1     # where spawned aggregators listen
///   address: 127.0.0.1  # the address Envoys dial to reach them
///   port: 0             # 0 picks a free port per experiment; a fixed one suits firewalls
/// ```
public struct DirectorSettings: Sendable {
    public var host: String
    public var port: Int
    public var sampleShape: [Int]
    public var targetShape: [Int]
    public var heartbeatPeriod: Double
    /// Envoys that must be online before an experiment is offered.
    public var minimumEnvoys: Int
    /// After the Director starts, how long a queued experiment waits for the Envoys it knew before
    /// (they reconnect with backoff) before it starts with whoever is back.
    public var startupGrace: Double
    /// How long offered Envoys have to accept or refuse an experiment.
    public var decisionTimeout: Double
    public var allowedEnvoys: Set<String>?
    public var allowedUsers: Set<String>?
    public var stateDirectory: String
    public var certificateDirectory: String
    /// The common name of the Director's certificate.
    public var name: String
    /// The common name of the certificate the aggregators it starts present (in `certificateDirectory`).
    /// The Director chooses it; a plan's `network.settings.agg_name` never picks a key here.
    public var aggregatorName: String
    /// The CA's certificate revocation list (`certificates.crl_file`), checked by the Director and
    /// the aggregators it starts on every new connection; nil checks none.
    public var revocationListPath: String?
    /// Where spawned aggregators listen.
    public var aggregatorHost: String
    /// The address Envoys dial to reach a spawned aggregator (its certificate must name it).
    public var aggregatorAddress: String
    /// The port spawned aggregators listen on; 0 picks a free one each time. Experiments run one at
    /// a time, so one fixed port is enough (and is what a firewall needs).
    public var aggregatorPort: Int
    /// Longest a request for work or a watch is held.
    public var longPollSeconds: Double
    /// Largest workspace archive accepted.
    public var maximumArchiveSize: Int
    /// The `fx-aggregator` executable; nil finds it beside the running one.
    public var aggregatorExecutable: String?

    public init(host: String = "127.0.0.1", port: Int = 50050, sampleShape: [Int], targetShape: [Int], heartbeatPeriod: Double = 5,
                minimumEnvoys: Int = 1, startupGrace: Double = 30, decisionTimeout: Double = 60, allowedEnvoys: Set<String>? = nil,
                allowedUsers: Set<String>? = nil, stateDirectory: String, certificateDirectory: String, name: String = "director",
                aggregatorName: String = "aggregator",
                aggregatorHost: String = "127.0.0.1", aggregatorAddress: String? = nil, aggregatorPort: Int = 0, longPollSeconds: Double = 30,
                maximumArchiveSize: Int = 1 << 30, aggregatorExecutable: String? = nil) {
        self.host = host
        self.port = port
        self.sampleShape = sampleShape
        self.targetShape = targetShape
        self.heartbeatPeriod = heartbeatPeriod
        self.minimumEnvoys = minimumEnvoys
        self.startupGrace = startupGrace
        self.decisionTimeout = decisionTimeout
        self.allowedEnvoys = allowedEnvoys
        self.allowedUsers = allowedUsers
        self.stateDirectory = stateDirectory
        self.certificateDirectory = certificateDirectory
        self.name = name
        self.aggregatorName = aggregatorName
        self.aggregatorHost = aggregatorHost
        self.aggregatorAddress = aggregatorAddress ?? aggregatorHost
        self.aggregatorPort = aggregatorPort
        self.longPollSeconds = longPollSeconds
        self.maximumArchiveSize = maximumArchiveSize
        self.aggregatorExecutable = aggregatorExecutable
    }

    /// The Director's own TLS identity.
    public var tls: TLSConfiguration {
        var tls = TLSConfiguration(certificateDirectory: certificateDirectory, name: name, revocationListPath: revocationListPath)
        // Thousands of Envoys sit idle between heartbeats: free their TLS buffers meanwhile.
        tls.releaseIdleBuffers = true
        return tls
    }

    /// Seconds without a heartbeat after which an Envoy counts as offline.
    public var offlineAfter: Double { heartbeatPeriod * 3 }

    static let keys = ["listen", "federation", "envoys", "users", "state_dir", "certificates", "aggregators", "limits"]

    /// Reads a Director configuration file. Errors name the file, line and column.
    public static func load(path: String) throws -> DirectorSettings {
        let file = try ConfigurationFile(path: path)
        try file.checkKeys("", keys)
        try file.checkKeys("listen", ["host", "port"])
        try file.checkKeys("federation", ["sample_shape", "target_shape"])
        try file.checkKeys("envoys", ["heartbeat_period", "minimum", "startup_grace", "decision_timeout", "allowed"])
        try file.checkKeys("users", ["allowed"])
        try file.checkKeys("certificates", ["dir", "name", "aggregator", "crl_file"])
        try file.checkKeys("limits", ["max_archive_bytes"])
        try file.checkKeys("aggregators", ["host", "address", "port"])
        let plan = file.plan
        let host = try plan.string("listen.host", default: "127.0.0.1")
        var settings = DirectorSettings(
            host: host, port: try file.port("listen.port", default: 50050),
            sampleShape: try file.shape("federation.sample_shape"), targetShape: try file.shape("federation.target_shape"),
            heartbeatPeriod: try file.seconds("envoys.heartbeat_period", default: 5),
            minimumEnvoys: try plan.int("envoys.minimum", default: 1),
            startupGrace: try plan.double("envoys.startup_grace", default: 30),
            decisionTimeout: try file.seconds("envoys.decision_timeout", default: 60),
            allowedEnvoys: try file.names("envoys.allowed"), allowedUsers: try file.names("users.allowed"),
            stateDirectory: try file.path("state_dir", default: "state"),
            certificateDirectory: try file.path("certificates.dir", default: "cert"),
            name: try plan.string("certificates.name", default: "director"),
            aggregatorName: try plan.string("certificates.aggregator", default: "aggregator"),
            aggregatorHost: try plan.string("aggregators.host", default: host))
        settings.aggregatorAddress = try plan.string("aggregators.address", default: settings.aggregatorHost)
        settings.aggregatorPort = try file.port("aggregators.port", default: 0)
        settings.revocationListPath = try file.optionalPath("certificates.crl_file")
        settings.maximumArchiveSize = try plan.int("limits.max_archive_bytes", default: settings.maximumArchiveSize)
        guard settings.maximumArchiveSize >= 1024 else {
            throw file.error("limits.max_archive_bytes", "expected at least 1024 bytes, found \(settings.maximumArchiveSize)")
        }
        guard settings.minimumEnvoys >= 1 else { throw file.error("envoys.minimum", "expected at least 1 Envoy, found \(settings.minimumEnvoys)") }
        guard settings.startupGrace >= 0, settings.startupGrace.isFinite else {
            throw file.error("envoys.startup_grace", "expected a number of seconds, 0 or more, found \(settings.startupGrace)")
        }
        if ["0.0.0.0", "::", ""].contains(settings.aggregatorAddress) {
            throw file.error(plan.node(at: "aggregators.address") == nil ? "aggregators.host" : "aggregators.address",
                             "Envoys cannot dial '\(settings.aggregatorAddress)': set aggregators.address to this machine's name or address")
        }
        do { try PKI.validate(name: settings.name) } catch { throw file.error("certificates.name", "\(error)") }
        do { try PKI.validate(name: settings.aggregatorName) } catch { throw file.error("certificates.aggregator", "\(error)") }
        return settings
    }
}
