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
/// experiments:
///   max_concurrent: 4   # experiments running at once (each also needs free Envoy slots and a port)
/// aggregators:
///   host: 127.0.0.1     # where spawned aggregators listen
///   address: 127.0.0.1  # the address Envoys dial to reach them
///   ports: 50100-50119  # one per running experiment, so a firewall opens one range; an experiment
///                       # waits while none is free. Or `port: 50051` (a range of one), or neither
///                       # (`port: 0`, the default): a free port picked per experiment
/// dashboard:            # optional: a read-only web page and Prometheus metrics (/metrics)
///   listen: 127.0.0.1:9090   # plain HTTP on a loopback address only, or any address with tls: true
///   tls: false          # true: HTTPS with the Director's certificate, client certificates of role user or admin
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
    /// The port spawned aggregators listen on (`aggregators.port`); 0 picks a free one each time. A
    /// fixed one is a range of one port: experiments then run one at a time.
    public var aggregatorPort: Int
    /// The ports spawned aggregators listen on (`aggregators.ports`), one per running experiment,
    /// so a firewall opens one range; nil: `aggregatorPort` decides.
    public var aggregatorPorts: ClosedRange<Int>?
    /// Experiments that run at once (`experiments.max_concurrent`). Each also needs a free slot on
    /// each of its Envoys (their `capacity`) and a free aggregator port, so with Envoys of capacity 1
    /// (their default) experiments on the same sites still run one after the other.
    public var maximumConcurrent = DirectorSettings.defaultMaximumConcurrent
    /// 4: enough for a few users sharing sites that declared room for them; each experiment costs
    /// one aggregator process here.
    public static let defaultMaximumConcurrent = 4
    /// Longest a request for work or a watch is held.
    public var longPollSeconds: Double
    /// Largest workspace archive accepted.
    public var maximumArchiveSize: Int
    /// The `fx-aggregator` executable; nil finds it beside the running one.
    public var aggregatorExecutable: String?
    /// Where the dashboard listens (`dashboard.listen`); nil serves none.
    public var dashboardListen: Endpoint?
    /// Whether the dashboard speaks mutual TLS (`dashboard.tls`); without it, only a loopback address is allowed.
    public var dashboardTLS = false

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

    /// The ports an aggregator may take, or nil for a free one picked by the system each time.
    public var aggregatorPortRange: ClosedRange<Int>? {
        aggregatorPorts ?? (aggregatorPort > 0 ? aggregatorPort...aggregatorPort : nil)
    }

    /// Seconds without a heartbeat after which an Envoy counts as offline.
    public var offlineAfter: Double { heartbeatPeriod * 3 }

    static let keys = ["listen", "federation", "envoys", "users", "state_dir", "certificates", "aggregators", "limits", "experiments", "dashboard"]

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
        try file.checkKeys("aggregators", ["host", "address", "port", "ports"])
        try file.checkKeys("experiments", ["max_concurrent"])
        try file.checkKeys("dashboard", ["listen", "tls"])
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
        settings.aggregatorPorts = try portRange(file, "aggregators.ports")
        if settings.aggregatorPorts != nil && settings.aggregatorPort != 0 {
            throw file.error("aggregators.port", "give aggregators.ports or aggregators.port, not both")
        }
        settings.maximumConcurrent = try plan.int("experiments.max_concurrent", default: defaultMaximumConcurrent)
        guard (1...1000).contains(settings.maximumConcurrent) else {
            throw file.error("experiments.max_concurrent", "expected 1 to 1000 experiments at once, found \(settings.maximumConcurrent)")
        }
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
        try readDashboard(file, into: &settings)
        do { try PKI.validate(name: settings.name) } catch { throw file.error("certificates.name", "\(error)") }
        do { try PKI.validate(name: settings.aggregatorName) } catch { throw file.error("certificates.aggregator", "\(error)") }
        return settings
    }

    /// `dashboard.listen` and `dashboard.tls`: plain HTTP is allowed on a loopback address only.
    private static func readDashboard(_ file: ConfigurationFile, into settings: inout DirectorSettings) throws {
        guard file.plan.node(at: "dashboard.listen") != nil else { return }
        let text = try file.plan.string("dashboard.listen", default: "")
        // Port 0 (a free port, announced as `dashboard_listening`) is allowed here, unlike a dialled endpoint.
        let endpoint = text.hasSuffix(":0") ? Endpoint(String(text.dropLast()) + "1").map { Endpoint(host: $0.host, port: 0) } : Endpoint(text)
        guard let endpoint else {
            throw file.error("dashboard.listen", "expected HOST:PORT such as 127.0.0.1:9090, found '\(text)'")
        }
        settings.dashboardListen = endpoint
        settings.dashboardTLS = try file.plan.bool("dashboard.tls", default: false)
        if !settings.dashboardTLS && !HTTPServer.isLoopback(endpoint.host) {
            throw file.error("dashboard.listen", "'\(text)' is not a loopback address: the dashboard serves plain HTTP on 127.0.0.1 "
                             + "(or ::1) only; set dashboard.tls: true to serve it there over TLS, to user and admin certificates")
        }
    }

    /// `first-last` (or one port) from 1 to 65535, or nil when the key is absent.
    private static func portRange(_ file: ConfigurationFile, _ key: String) throws -> ClosedRange<Int>? {
        guard file.plan.node(at: key) != nil else { return nil }
        let text: String
        if let port = try? file.plan.int(key, default: 0) {
            text = String(port)
        } else {
            text = try file.plan.string(key, default: "")
        }
        guard let range = portRange(text) else {
            throw file.error(key, "expected a port range such as 50100-50119 (ports 1 to 65535, the first not above the last), found '\(text)'")
        }
        return range
    }

    /// `first-last` or one port, each from 1 to 65535; nil for anything else.
    static func portRange(_ text: String) -> ClosedRange<Int>? {
        let pieces = text.split(separator: "-", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) ?? 0 }
        guard pieces.count == 1 || pieces.count == 2 else { return nil }
        let first = pieces[0], last = pieces[pieces.count - 1]
        guard first >= 1, last <= 65535, first <= last else { return nil }
        return first...last
    }
}
