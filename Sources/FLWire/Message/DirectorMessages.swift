import FLPKI

// The long-lived federation's protocol. Two kinds of peers talk to a Director, each over its own
// mutual-TLS connection, identified by the common name of its certificate:
//
// Envoys (one per data site) dial out, register their shard, then keep two things going on the one
// connection: a heartbeat every period, and a long-poll for work (`WorkRequest`) that the Director
// answers the moment it has something for the site: an experiment to consider (`offer`), to run
// (`run`, with the aggregator's address), or to stop. The archive itself is fetched with
// `ArchiveRequest` and streamed back in chunks.
//
// Data scientists and operators submit experiments (the archive streamed after `SubmitExperiment`),
// list and watch them (a status request may be held until the experiment changes), download models
// and list envoys.

// MARK: - Values carried by several messages

/// What an Envoy says about its local data. The Director compares the shapes with the federation's.
public struct ShardDescriptor: Sendable, Hashable, Codable {
    /// The file format (`csv`).
    public var format: String
    /// Where the data is at the site (informational: the Director never reads it).
    public var path: String
    public var labelColumn: String
    /// Shape of one sample's features, e.g. `[30]`.
    public var sampleShape: [Int]
    /// Shape of one sample's target, e.g. `[1]`.
    public var targetShape: [Int]
    /// Rows in the shard.
    public var sampleCount: Int
    /// Free text from the site's configuration.
    public var description: String

    public init(format: String = "csv", path: String, labelColumn: String, sampleShape: [Int], targetShape: [Int],
                sampleCount: Int = 0, description: String = "") {
        self.format = format
        self.path = path
        self.labelColumn = labelColumn
        self.sampleShape = sampleShape
        self.targetShape = targetShape
        self.sampleCount = sampleCount
        self.description = description
    }

    /// `[30]`, `[28, 28]`: how shapes are shown in messages and tables.
    public static func text(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
}

/// The state of one Envoy as the Director sees it, for `fx envoy list`.
public struct EnvoyInfo: Sendable, Hashable, Codable {
    public var name: String
    public var shard: ShardDescriptor
    /// Connected and heard from within the last three heartbeat periods.
    public var online: Bool
    /// Seconds since the last heartbeat (or registration); nil when not heard from since the Director started.
    public var lastHeartbeatAge: Double?
    /// The experiment the site last handled, when it is still running there or in progress.
    public var currentExperiment: String
    public var collaboratorRunning: Bool
    /// Machine CPU use at the site, percent of all cores.
    public var cpuPercent: Double
    /// Memory used by the Envoy and its collaborator.
    public var residentBytes: Int
    /// Memory the site's machine still has available.
    public var availableBytes: Int
    /// Seconds since 1970 when the Envoy first registered.
    public var registeredAt: Double

    public init(name: String, shard: ShardDescriptor, online: Bool, lastHeartbeatAge: Double?, currentExperiment: String,
                collaboratorRunning: Bool, cpuPercent: Double, residentBytes: Int, availableBytes: Int, registeredAt: Double) {
        self.name = name
        self.shard = shard
        self.online = online
        self.lastHeartbeatAge = lastHeartbeatAge
        self.currentExperiment = currentExperiment
        self.collaboratorRunning = collaboratorRunning
        self.cpuPercent = cpuPercent
        self.residentBytes = residentBytes
        self.availableBytes = availableBytes
        self.registeredAt = registeredAt
    }
}

/// Where an experiment is in its life.
public enum ExperimentStatus: String, Sendable, Hashable, Codable, CaseIterable {
    /// Waiting for the experiments before it.
    case queued
    /// Offered to the online Envoys, waiting for their decisions.
    case preparing
    /// The aggregator is running.
    case running
    case succeeded
    case failed
    case cancelled

    /// Whether the experiment is over for good.
    public var isFinal: Bool { self == .succeeded || self == .failed || self == .cancelled }

    var code: UInt8 { UInt8(ExperimentStatus.allCases.firstIndex(of: self)!) }
}

/// One round's aggregate, as the Director recorded it from the aggregator's events.
public struct RoundInfo: Sendable, Hashable, Codable {
    public var round: Int
    public var finalValidation: Bool
    public var attempt: Int
    /// Sample-weighted aggregates, keyed `task/metric`.
    public var metrics: [String: Double]
    public var reported: [String]
    public var missing: [String]
    public var duration: Double
    public var best: Bool
    /// Whether it measured the best model once more, after the final validation.
    public var bestValidation: Bool
    /// Each site's own metrics (`task/metric` → value), for the final and best validations.
    public var sites: [String: [String: Double]]

    public init(round: Int, finalValidation: Bool, attempt: Int, metrics: [String: Double], reported: [String], missing: [String],
                duration: Double, best: Bool, bestValidation: Bool = false, sites: [String: [String: Double]] = [:]) {
        self.round = round
        self.finalValidation = finalValidation
        self.attempt = attempt
        self.metrics = metrics
        self.reported = reported
        self.missing = missing
        self.duration = duration
        self.best = best
        self.bestValidation = bestValidation
        self.sites = sites
    }

    private enum CodingKeys: String, CodingKey {
        case round, finalValidation, attempt, metrics, reported, missing, duration, best, bestValidation, sites
    }

    /// Reads what `encode` wrote; state written before the per-site figures existed reads as none.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(round: try c.decode(Int.self, forKey: .round), finalValidation: try c.decode(Bool.self, forKey: .finalValidation),
                  attempt: try c.decode(Int.self, forKey: .attempt), metrics: try c.decode([String: Double].self, forKey: .metrics),
                  reported: try c.decode([String].self, forKey: .reported), missing: try c.decode([String].self, forKey: .missing),
                  duration: try c.decode(Double.self, forKey: .duration), best: try c.decode(Bool.self, forKey: .best),
                  bestValidation: try c.decodeIfPresent(Bool.self, forKey: .bestValidation) ?? false,
                  sites: try c.decodeIfPresent([String: [String: Double]].self, forKey: .sites) ?? [:])
    }
}

/// What one site did with one experiment.
public struct SiteInfo: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable, CaseIterable {
        /// Offered; no answer yet.
        case offered
        /// The site's policy allows the archive.
        case accepted
        /// The site's policy refused the archive (or it could not be unpacked there).
        case refused
        /// The site's collaborator is running.
        case running
        /// The collaborator exited with status 0.
        case finished
        /// The collaborator died or exited with an error.
        case failed
        /// Did not answer the offer in time.
        case absent

        var code: UInt8 { UInt8(State.allCases.firstIndex(of: self)!) }
    }

    public var envoy: String
    public var state: State
    public var reason: String
    /// The collaborator's exit status, as the site reported it.
    public var exitStatus: String

    public init(envoy: String, state: State, reason: String = "", exitStatus: String = "") {
        self.envoy = envoy
        self.state = state
        self.reason = reason
        self.exitStatus = exitStatus
    }
}

/// Everything the Director knows about one experiment.
public struct ExperimentInfo: Sendable, Hashable, Codable {
    public var name: String
    public var status: ExperimentStatus
    /// Why it failed or was cancelled; a summary when it succeeded.
    public var reason: String
    /// SHA-256 of the submitted archive (hex), what sites approve.
    public var archiveSHA256: String
    public var archiveSize: Int
    /// Certificate name of whoever submitted it.
    public var submittedBy: String
    /// Seconds since 1970.
    public var submittedAt: Double
    public var startedAt: Double?
    public var finishedAt: Double?
    /// 1-based position among the queued experiments (0 when not queued).
    public var queuePosition: Int
    public var roundsToTrain: Int
    public var roundsCompleted: Int
    /// The round being trained (0-based), -1 when none.
    public var currentRound: Int
    /// How many times an aggregator was started for it (more than 1 after a Director restart).
    public var launches: Int
    /// The Envoys taking part (the plan's collaborators).
    public var collaborators: [String]
    public var bestMetric: String
    public var bestValue: Double?
    /// The latest aggregated metrics (from the final validation once there is one).
    public var lastMetrics: [String: Double]
    /// Every closed round, in order (left out of listings).
    public var rounds: [RoundInfo]
    public var sites: [SiteInfo]
    /// Grows with every change; `watch` waits for it to pass the value it has seen.
    public var version: UInt64

    public init(name: String, status: ExperimentStatus = .queued, reason: String = "", archiveSHA256: String, archiveSize: Int,
                submittedBy: String, submittedAt: Double, startedAt: Double? = nil, finishedAt: Double? = nil, queuePosition: Int = 0,
                roundsToTrain: Int = 0, roundsCompleted: Int = 0, currentRound: Int = -1, launches: Int = 0, collaborators: [String] = [],
                bestMetric: String = "", bestValue: Double? = nil, lastMetrics: [String: Double] = [:], rounds: [RoundInfo] = [],
                sites: [SiteInfo] = [], version: UInt64 = 1) {
        self.name = name
        self.status = status
        self.reason = reason
        self.archiveSHA256 = archiveSHA256
        self.archiveSize = archiveSize
        self.submittedBy = submittedBy
        self.submittedAt = submittedAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.queuePosition = queuePosition
        self.roundsToTrain = roundsToTrain
        self.roundsCompleted = roundsCompleted
        self.currentRound = currentRound
        self.launches = launches
        self.collaborators = collaborators
        self.bestMetric = bestMetric
        self.bestValue = bestValue
        self.lastMetrics = lastMetrics
        self.rounds = rounds
        self.sites = sites
        self.version = version
    }

    /// The site entry of `envoy`, if it was offered the experiment.
    public func site(_ envoy: String) -> SiteInfo? { sites.first { $0.envoy == envoy } }
}

// MARK: - Encodings of the shared values

extension WireWriter {
    mutating func shape(_ shape: [Int]) { list(shape) { $0.int($1) } }

    mutating func shard(_ s: ShardDescriptor) {
        string(s.format)
        string(s.path)
        string(s.labelColumn)
        shape(s.sampleShape)
        shape(s.targetShape)
        int(s.sampleCount)
        string(s.description)
    }

    mutating func optionalDouble(_ v: Double?) { optional(v) { $0.f64($1) } }

    mutating func envoyInfo(_ e: EnvoyInfo) {
        string(e.name)
        shard(e.shard)
        bool(e.online)
        optionalDouble(e.lastHeartbeatAge)
        string(e.currentExperiment)
        bool(e.collaboratorRunning)
        f64(e.cpuPercent)
        int(e.residentBytes)
        int(e.availableBytes)
        f64(e.registeredAt)
    }

    mutating func experimentInfo(_ x: ExperimentInfo) {
        string(x.name)
        u8(x.status.code)
        string(x.reason)
        string(x.archiveSHA256)
        int(x.archiveSize)
        string(x.submittedBy)
        f64(x.submittedAt)
        optionalDouble(x.startedAt)
        optionalDouble(x.finishedAt)
        int(x.queuePosition)
        int(x.roundsToTrain)
        int(x.roundsCompleted)
        int(x.currentRound)
        int(x.launches)
        strings(x.collaborators)
        string(x.bestMetric)
        optionalDouble(x.bestValue)
        metrics(x.lastMetrics)
        list(x.rounds) { w, r in
            w.int(r.round)
            w.bool(r.finalValidation)
            w.int(r.attempt)
            w.metrics(r.metrics)
            w.strings(r.reported)
            w.strings(r.missing)
            w.f64(r.duration)
            w.bool(r.best)
            w.bool(r.bestValidation)
            w.list(r.sites.sorted { $0.key < $1.key }) { w, site in
                w.string(site.key)
                w.metrics(site.value)
            }
        }
        list(x.sites) { w, s in
            w.string(s.envoy)
            w.u8(s.state.code)
            w.string(s.reason)
            w.string(s.exitStatus)
        }
        u64(x.version)
    }
}

extension WireReader {
    /// A shape: 1 to 8 positive dimensions.
    mutating func shape(_ field: String) throws -> [Int] {
        let dims = try list(field, minimumElementSize: 8) { try $0.count(field, limit: 1 << 40) }
        guard (1...8).contains(dims.count), dims.allSatisfy({ $0 > 0 }) else {
            throw WireDecodingError(context: context, field: field, reason: "\(ShardDescriptor.text(dims)) is not 1 to 8 positive dimensions")
        }
        return dims
    }

    mutating func shard(_ field: String) throws -> ShardDescriptor {
        ShardDescriptor(format: try string("\(field).format"), path: try string("\(field).path"), labelColumn: try string("\(field).labelColumn"),
                        sampleShape: try shape("\(field).sampleShape"), targetShape: try shape("\(field).targetShape"),
                        sampleCount: try count("\(field).sampleCount", limit: Int.max), description: try string("\(field).description"))
    }

    mutating func optionalDouble(_ field: String) throws -> Double? { try optional(field) { try $0.f64(field) } }

    mutating func envoyInfo(_ field: String) throws -> EnvoyInfo {
        EnvoyInfo(name: try string("\(field).name"), shard: try shard("\(field).shard"), online: try bool("\(field).online"),
                  lastHeartbeatAge: try optionalDouble("\(field).lastHeartbeatAge"), currentExperiment: try string("\(field).currentExperiment"),
                  collaboratorRunning: try bool("\(field).collaboratorRunning"), cpuPercent: try f64("\(field).cpuPercent"),
                  residentBytes: try count("\(field).residentBytes", limit: Int.max), availableBytes: try count("\(field).availableBytes", limit: Int.max),
                  registeredAt: try f64("\(field).registeredAt"))
    }

    mutating func experimentInfo(_ field: String) throws -> ExperimentInfo {
        let name = try string("\(field).name")
        let code = try u8("\(field).status")
        guard Int(code) < ExperimentStatus.allCases.count else {
            throw WireDecodingError(context: context, field: "\(field).status", reason: "unknown value \(code)")
        }
        var x = ExperimentInfo(name: name, status: ExperimentStatus.allCases[Int(code)], reason: try string("\(field).reason"),
                               archiveSHA256: try string("\(field).archiveSHA256"), archiveSize: try count("\(field).archiveSize", limit: Int.max),
                               submittedBy: try string("\(field).submittedBy"), submittedAt: try f64("\(field).submittedAt"))
        x.startedAt = try optionalDouble("\(field).startedAt")
        x.finishedAt = try optionalDouble("\(field).finishedAt")
        x.queuePosition = try count("\(field).queuePosition", limit: Int.max)
        x.roundsToTrain = try count("\(field).roundsToTrain", limit: 1_000_000)
        x.roundsCompleted = try count("\(field).roundsCompleted", limit: 1_000_000)
        x.currentRound = try int("\(field).currentRound")
        x.launches = try count("\(field).launches", limit: Int.max)
        x.collaborators = try strings("\(field).collaborators")
        x.bestMetric = try string("\(field).bestMetric")
        x.bestValue = try optionalDouble("\(field).bestValue")
        x.lastMetrics = try metrics("\(field).lastMetrics")
        x.rounds = try list("\(field).rounds", minimumElementSize: 38) { r in
            RoundInfo(round: try r.count("round", limit: 1_000_000), finalValidation: try r.bool("finalValidation"),
                      attempt: try r.count("attempt", limit: 1_000_000), metrics: try r.metrics("metrics"), reported: try r.strings("reported"),
                      missing: try r.strings("missing"), duration: try r.f64("duration"), best: try r.bool("best"),
                      bestValidation: try r.bool("bestValidation"),
                      sites: Dictionary(try r.list("sites", minimumElementSize: 12) { s in (try s.string("site"), try s.metrics("metrics")) },
                                        uniquingKeysWith: { first, _ in first }))
        }
        x.sites = try list("\(field).sites", minimumElementSize: 13) { r in
            let envoy = try r.string("site.envoy")
            let code = try r.u8("site.state")
            guard Int(code) < SiteInfo.State.allCases.count else {
                throw WireDecodingError(context: r.context, field: "site.state", reason: "unknown value \(code)")
            }
            return SiteInfo(envoy: envoy, state: SiteInfo.State.allCases[Int(code)], reason: try r.string("site.reason"),
                            exitStatus: try r.string("site.exitStatus"))
        }
        x.version = try u64("\(field).version")
        return x
    }
}

// MARK: - Envoy ↔ Director

/// First request of an Envoy on each connection: its name (checked against its certificate) and shard.
public struct EnvoyRegistration: WireMessage {
    public static let type = MessageType(rawValue: 0x0200)
    public static let protocolVersion: UInt16 = 1

    public var envoy: String
    public var shard: ShardDescriptor
    public var version: UInt16

    public init(envoy: String, shard: ShardDescriptor, version: UInt16 = EnvoyRegistration.protocolVersion) {
        self.envoy = envoy
        self.shard = shard
        self.version = version
    }

    public func encode(to w: inout WireWriter) {
        w.string(envoy)
        w.shard(shard)
        w.u16(version)
    }

    public init(from r: inout WireReader) throws {
        envoy = try r.string("envoy")
        shard = try r.shard("shard")
        version = try r.u16("version")
    }
}

/// The Director's answer to a registration: how often to send heartbeats.
public struct EnvoyWelcome: WireMessage {
    public static let type = MessageType(rawValue: 0x0201)

    public var heartbeatPeriod: Double
    public var sampleShape: [Int]
    public var targetShape: [Int]

    public init(heartbeatPeriod: Double, sampleShape: [Int], targetShape: [Int]) {
        self.heartbeatPeriod = heartbeatPeriod
        self.sampleShape = sampleShape
        self.targetShape = targetShape
    }

    public func encode(to w: inout WireWriter) {
        w.f64(heartbeatPeriod)
        w.shape(sampleShape)
        w.shape(targetShape)
    }

    public init(from r: inout WireReader) throws {
        heartbeatPeriod = try r.f64("heartbeatPeriod")
        guard heartbeatPeriod.isFinite, heartbeatPeriod > 0, heartbeatPeriod <= 86_400 else {
            throw WireDecodingError(context: r.context, field: "heartbeatPeriod", reason: "is \(heartbeatPeriod)")
        }
        sampleShape = try r.shape("sampleShape")
        targetShape = try r.shape("targetShape")
    }
}

/// Sent every heartbeat period; answered with `OkReply`, or `ErrorReply(.unknownPeer)` when the
/// Director does not know the Envoy (it restarted), which then registers again.
public struct EnvoyHeartbeat: WireMessage {
    public static let type = MessageType(rawValue: 0x0202)

    /// Machine CPU use, percent of all cores, since the previous heartbeat.
    public var cpuPercent: Double
    /// Memory of the Envoy and its collaborator.
    public var residentBytes: Int
    /// The machine's available memory.
    public var availableBytes: Int
    public var collaboratorRunning: Bool
    /// The experiment the site is handling ("" when none).
    public var experiment: String

    public init(cpuPercent: Double, residentBytes: Int, availableBytes: Int, collaboratorRunning: Bool, experiment: String) {
        self.cpuPercent = cpuPercent
        self.residentBytes = residentBytes
        self.availableBytes = availableBytes
        self.collaboratorRunning = collaboratorRunning
        self.experiment = experiment
    }

    public func encode(to w: inout WireWriter) {
        w.f64(cpuPercent)
        w.int(residentBytes)
        w.int(availableBytes)
        w.bool(collaboratorRunning)
        w.string(experiment)
    }

    public init(from r: inout WireReader) throws {
        cpuPercent = try r.f64("cpuPercent")
        residentBytes = try r.count("residentBytes", limit: Int.max)
        availableBytes = try r.count("availableBytes", limit: Int.max)
        collaboratorRunning = try r.bool("collaboratorRunning")
        experiment = try r.string("experiment")
    }
}

/// Where a site is with the experiment it last handled, sent with every request for work so the
/// Director can tell what the site still needs.
public enum SiteWorkState: UInt8, Sendable, Hashable {
    /// Nothing handled yet (a fresh Envoy).
    case idle = 0
    /// Decided on an offer (accepted or refused); no collaborator started.
    case decided = 1
    /// Its collaborator is running.
    case running = 2
    /// Its collaborator has exited.
    case exited = 3
}

/// An Envoy's long-poll for work. The Director holds it until it has something for the site, or
/// until `maximumWaitSeconds` pass (then it answers `wait`).
public struct WorkRequest: WireMessage {
    public static let type = MessageType(rawValue: 0x0203)

    /// The experiment the site last handled ("" when none).
    public var experiment: String
    /// Which start of that experiment's aggregator the site last ran against.
    public var launch: Int
    public var state: SiteWorkState
    public var maximumWaitSeconds: Double

    public init(experiment: String, launch: Int, state: SiteWorkState, maximumWaitSeconds: Double) {
        self.experiment = experiment
        self.launch = launch
        self.state = state
        self.maximumWaitSeconds = maximumWaitSeconds
    }

    public func encode(to w: inout WireWriter) {
        w.string(experiment)
        w.int(launch)
        w.u8(state.rawValue)
        w.f64(maximumWaitSeconds)
    }

    public init(from r: inout WireReader) throws {
        experiment = try r.string("experiment")
        launch = try r.count("launch", limit: Int.max)
        state = try r.enumeration("state", as: SiteWorkState.self)
        maximumWaitSeconds = try r.f64("maximumWaitSeconds")
        guard maximumWaitSeconds.isFinite, maximumWaitSeconds >= 0 else {
            throw WireDecodingError(context: r.context, field: "maximumWaitSeconds", reason: "is \(maximumWaitSeconds)")
        }
    }
}

/// What a site should do now.
public struct WorkAssignment: WireMessage {
    public static let type = MessageType(rawValue: 0x0204)

    public enum Action: UInt8, Sendable, Hashable {
        /// Nothing yet: ask again.
        case wait = 0
        /// Fetch the archive, check it against the site's policy and report the decision.
        case offer = 1
        /// Start (or restart) the collaborator against the aggregator given.
        case run = 2
        /// Stop the collaborator of `experiment`: it ended (or was cancelled) at the centre.
        case stop = 3
    }

    public var action: Action
    public var experiment: String
    public var launch: Int
    public var archiveSHA256: String
    public var archiveSize: Int
    /// Where the experiment's aggregator listens, for `run`.
    public var aggregatorHost: String
    public var aggregatorPort: Int
    /// The common name of the aggregator's certificate.
    public var aggregatorName: String
    /// Every site taking part, for `run`: the experiment's collaborators, whatever its `cols.yaml` says.
    public var collaborators: [String]
    /// The rows each of `collaborators` registered, in the same order.
    public var collaboratorRows: [Int]
    /// Why, for `stop`.
    public var reason: String

    public init(action: Action, experiment: String = "", launch: Int = 0, archiveSHA256: String = "", archiveSize: Int = 0,
                aggregatorHost: String = "", aggregatorPort: Int = 0, aggregatorName: String = "", collaborators: [String] = [],
                collaboratorRows: [Int] = [], reason: String = "") {
        self.action = action
        self.experiment = experiment
        self.launch = launch
        self.archiveSHA256 = archiveSHA256
        self.archiveSize = archiveSize
        self.aggregatorHost = aggregatorHost
        self.aggregatorPort = aggregatorPort
        self.aggregatorName = aggregatorName
        self.collaborators = collaborators
        self.collaboratorRows = collaboratorRows
        self.reason = reason
    }

    public func encode(to w: inout WireWriter) {
        w.u8(action.rawValue)
        w.string(experiment)
        w.int(launch)
        w.string(archiveSHA256)
        w.int(archiveSize)
        w.string(aggregatorHost)
        w.int(aggregatorPort)
        w.string(aggregatorName)
        w.strings(collaborators)
        w.list(collaboratorRows) { $0.int($1) }
        w.string(reason)
    }

    public init(from r: inout WireReader) throws {
        action = try r.enumeration("action", as: Action.self)
        experiment = try r.string("experiment")
        launch = try r.count("launch", limit: Int.max)
        archiveSHA256 = try r.string("archiveSHA256")
        archiveSize = try r.count("archiveSize", limit: Int.max)
        aggregatorHost = try r.string("aggregatorHost")
        aggregatorPort = try r.count("aggregatorPort", limit: 65535)
        aggregatorName = try r.string("aggregatorName")
        collaborators = try r.strings("collaborators")
        collaboratorRows = try r.list("collaboratorRows", minimumElementSize: 8) { try $0.count("collaboratorRows", limit: Int.max) }
        guard collaboratorRows.isEmpty || collaboratorRows.count == collaborators.count else {
            throw WireDecodingError(context: r.context, field: "collaboratorRows", reason: "\(collaboratorRows.count) counts for \(collaborators.count) collaborators")
        }
        reason = try r.string("reason")
    }
}

/// Asks for an experiment's archive; answered by `ArchiveReply` with the archive streamed.
public struct ArchiveRequest: WireMessage {
    public static let type = MessageType(rawValue: 0x0205)
    public var experiment: String
    public init(experiment: String) { self.experiment = experiment }
    public func encode(to w: inout WireWriter) { w.string(experiment) }
    public init(from r: inout WireReader) throws { experiment = try r.string("experiment") }
}

/// Announces an archive (a workspace export) streamed in the chunks that follow.
public struct ArchiveReply: WireMessage {
    public static let type = MessageType(rawValue: 0x0206)
    public var experiment: String
    public var sha256: String
    public init(experiment: String, sha256: String) {
        self.experiment = experiment
        self.sha256 = sha256
    }
    public func encode(to w: inout WireWriter) {
        w.string(experiment)
        w.string(sha256)
    }
    public init(from r: inout WireReader) throws {
        experiment = try r.string("experiment")
        sha256 = try r.string("sha256")
    }
}

/// What happened at a site with an experiment; answered with `OkReply`.
public struct SiteReport: WireMessage {
    public static let type = MessageType(rawValue: 0x0207)

    public enum Event: UInt8, Sendable, Hashable {
        /// The policy allows the archive and it unpacked.
        case accepted = 1
        /// The policy refused it, or it could not be fetched or unpacked.
        case refused = 2
        case collaboratorStarted = 3
        case collaboratorExited = 4
    }

    public var experiment: String
    public var launch: Int
    public var event: Event
    public var reason: String
    /// For `collaboratorExited`: how it ended (`exited with status 0`, `killed by signal 9`).
    public var exitStatus: String
    /// For `collaboratorExited`: whether it exited with status 0.
    public var succeeded: Bool

    public init(experiment: String, launch: Int, event: Event, reason: String = "", exitStatus: String = "", succeeded: Bool = false) {
        self.experiment = experiment
        self.launch = launch
        self.event = event
        self.reason = reason
        self.exitStatus = exitStatus
        self.succeeded = succeeded
    }

    public func encode(to w: inout WireWriter) {
        w.string(experiment)
        w.int(launch)
        w.u8(event.rawValue)
        w.string(reason)
        w.string(exitStatus)
        w.bool(succeeded)
    }

    public init(from r: inout WireReader) throws {
        experiment = try r.string("experiment")
        launch = try r.count("launch", limit: Int.max)
        event = try r.enumeration("event", as: Event.self)
        reason = try r.string("reason")
        exitStatus = try r.string("exitStatus")
        succeeded = try r.bool("succeeded")
    }
}

// MARK: - Data scientists and operators ↔ Director

/// Submits an experiment: the workspace archive follows as a stream. Answered with the queued
/// experiment's `ExperimentStatusReply`.
public struct SubmitExperiment: WireMessage {
    public static let type = MessageType(rawValue: 0x0210)
    public var name: String
    /// SHA-256 of the streamed archive, checked by the Director after receiving it.
    public var sha256: String
    public init(name: String, sha256: String) {
        self.name = name
        self.sha256 = sha256
    }
    public func encode(to w: inout WireWriter) {
        w.string(name)
        w.string(sha256)
    }
    public init(from r: inout WireReader) throws {
        name = try r.string("name")
        sha256 = try r.string("sha256")
    }
}

/// Asks for every experiment, in submission order; answered with `ExperimentListReply`.
public struct ExperimentListRequest: WireMessage {
    public static let type = MessageType(rawValue: 0x0211)
    public init() {}
    public func encode(to w: inout WireWriter) {}
    public init(from r: inout WireReader) throws {}
}

/// Every experiment (without their per-round records): the asker's own in full, others' by name
/// and state only.
public struct ExperimentListReply: WireMessage {
    public static let type = MessageType(rawValue: 0x0212)
    public var experiments: [ExperimentInfo]
    /// What the Director wants its users to know about itself (e.g. that it cannot save its state), or "".
    public var stateWarning: String
    public init(experiments: [ExperimentInfo], stateWarning: String = "") {
        self.experiments = experiments
        self.stateWarning = stateWarning
    }
    public func encode(to w: inout WireWriter) {
        w.list(experiments) { $0.experimentInfo($1) }
        w.string(stateWarning)
    }
    public init(from r: inout WireReader) throws {
        experiments = try r.list("experiments", minimumElementSize: 64) { try $0.experimentInfo("experiment") }
        stateWarning = try r.string("stateWarning")
    }
}

/// Asks for one experiment's status. With `maximumWaitSeconds > 0` the Director holds the request
/// until the experiment's version passes `afterVersion` (or the wait ends): this is how `watch` follows one.
public struct ExperimentStatusRequest: WireMessage {
    public static let type = MessageType(rawValue: 0x0213)
    public var name: String
    public var afterVersion: UInt64
    public var maximumWaitSeconds: Double
    public init(name: String, afterVersion: UInt64 = 0, maximumWaitSeconds: Double = 0) {
        self.name = name
        self.afterVersion = afterVersion
        self.maximumWaitSeconds = maximumWaitSeconds
    }
    public func encode(to w: inout WireWriter) {
        w.string(name)
        w.u64(afterVersion)
        w.f64(maximumWaitSeconds)
    }
    public init(from r: inout WireReader) throws {
        name = try r.string("name")
        afterVersion = try r.u64("afterVersion")
        maximumWaitSeconds = try r.f64("maximumWaitSeconds")
        guard maximumWaitSeconds.isFinite, maximumWaitSeconds >= 0 else {
            throw WireDecodingError(context: r.context, field: "maximumWaitSeconds", reason: "is \(maximumWaitSeconds)")
        }
    }
}

/// One experiment, in full.
public struct ExperimentStatusReply: WireMessage {
    public static let type = MessageType(rawValue: 0x0214)
    public var experiment: ExperimentInfo
    /// What the Director wants its users to know about itself (e.g. that it cannot save its state), or "".
    public var stateWarning: String
    public init(experiment: ExperimentInfo, stateWarning: String = "") {
        self.experiment = experiment
        self.stateWarning = stateWarning
    }
    public func encode(to w: inout WireWriter) {
        w.experimentInfo(experiment)
        w.string(stateWarning)
    }
    public init(from r: inout WireReader) throws {
        experiment = try r.experimentInfo("experiment")
        stateWarning = try r.string("stateWarning")
    }
}

/// Which of an experiment's models.
public enum ModelChoice: UInt8, Sendable, Hashable, CustomStringConvertible {
    case best = 1
    case last = 2
    public var description: String { self == .best ? "best" : "last" }
}

// An experiment's name and a model choice: the payload of both model messages.
extension WireWriter {
    mutating func modelChoice(_ name: String, _ which: ModelChoice) {
        string(name)
        u8(which.rawValue)
    }
}

extension WireReader {
    mutating func modelChoice() throws -> (String, ModelChoice) {
        (try string("name"), try enumeration("which", as: ModelChoice.self))
    }
}

/// Asks for an experiment's best or last model; answered by `ExperimentModelReply` with the
/// safetensors file streamed.
public struct ExperimentModelRequest: WireMessage {
    public static let type = MessageType(rawValue: 0x0215)
    public var name: String
    public var which: ModelChoice
    public init(name: String, which: ModelChoice) {
        self.name = name
        self.which = which
    }
    public func encode(to w: inout WireWriter) { w.modelChoice(name, which) }
    public init(from r: inout WireReader) throws { (name, which) = try r.modelChoice() }
}

/// Announces a model file (safetensors) streamed in the chunks that follow.
public struct ExperimentModelReply: WireMessage {
    public static let type = MessageType(rawValue: 0x0216)
    public var name: String
    public var which: ModelChoice
    public init(name: String, which: ModelChoice) {
        self.name = name
        self.which = which
    }
    public func encode(to w: inout WireWriter) { w.modelChoice(name, which) }
    public init(from r: inout WireReader) throws { (name, which) = try r.modelChoice() }
}

/// Cancels a queued or running experiment; answered with its `ExperimentStatusReply`.
public struct CancelExperiment: WireMessage {
    public static let type = MessageType(rawValue: 0x0217)
    public var name: String
    public init(name: String) { self.name = name }
    public func encode(to w: inout WireWriter) { w.string(name) }
    public init(from r: inout WireReader) throws { name = try r.string("name") }
}

/// Asks for every known Envoy; answered with `EnvoyListReply`.
public struct EnvoyListRequest: WireMessage {
    public static let type = MessageType(rawValue: 0x0218)
    public init() {}
    public func encode(to w: inout WireWriter) {}
    public init(from r: inout WireReader) throws {}
}

/// Every Envoy the Director knows, by name.
public struct EnvoyListReply: WireMessage {
    public static let type = MessageType(rawValue: 0x0219)
    public var envoys: [EnvoyInfo]
    public var heartbeatPeriod: Double
    public init(envoys: [EnvoyInfo], heartbeatPeriod: Double) {
        self.envoys = envoys
        self.heartbeatPeriod = heartbeatPeriod
    }
    public func encode(to w: inout WireWriter) {
        w.list(envoys) { $0.envoyInfo($1) }
        w.f64(heartbeatPeriod)
    }
    public init(from r: inout WireReader) throws {
        envoys = try r.list("envoys", minimumElementSize: 64) { try $0.envoyInfo("envoy") }
        heartbeatPeriod = try r.f64("heartbeatPeriod")
    }
}

extension MessageRegistry {
    static let directorMessages: [any WireMessage.Type] = [
        EnvoyRegistration.self, EnvoyWelcome.self, EnvoyHeartbeat.self, WorkRequest.self, WorkAssignment.self,
        ArchiveRequest.self, ArchiveReply.self, SiteReport.self,
        SubmitExperiment.self, ExperimentListRequest.self, ExperimentListReply.self, ExperimentStatusRequest.self,
        ExperimentStatusReply.self, ExperimentModelRequest.self, ExperimentModelReply.self, CancelExperiment.self,
        EnvoyListRequest.self, EnvoyListReply.self,
    ]
}
