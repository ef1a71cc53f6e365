import FLPKI

// MARK: - Envoy ↔ Director

/// First request of an Envoy on each connection: its name (checked against its certificate), its
/// shard and how many experiments' collaborators it runs at once.
public struct EnvoyRegistration: WireMessage {
    public static let type = MessageType(rawValue: 0x0200)
    public static let protocolVersion: UInt16 = 1

    public var envoy: String
    public var shard: ShardDescriptor
    public var version: UInt16
    /// Collaborators (one per experiment) the site runs at once; the Director never books more.
    /// Added at the end of the message: an older Envoy's registration, without it, reads as 1.
    public var capacity: Int

    public init(envoy: String, shard: ShardDescriptor, version: UInt16 = EnvoyRegistration.protocolVersion, capacity: Int = 1) {
        self.envoy = envoy
        self.shard = shard
        self.version = version
        self.capacity = capacity
    }

    private enum CodingKeys: String, CodingKey { case envoy, shard, version, capacity }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(envoy: try c.decode(String.self, forKey: .envoy), shard: try c.decode(ShardDescriptor.self, forKey: .shard),
                  version: try c.decode(UInt16.self, forKey: .version),
                  capacity: c.contains(.capacity) ? try c.decode(Int.self, forKey: .capacity) : 1)
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
    /// Whether any collaborator runs.
    public var collaboratorRunning: Bool
    /// The experiment the site is handling ("" when none): the first of `running`, else the one it handled last.
    public var experiment: String
    /// Every experiment whose collaborator runs at the site now (one per experiment, up to its
    /// capacity). Added at the end of the message: an older Envoy's heartbeat reads as `[experiment]`
    /// while its collaborator runs.
    public var running: [String]

    public init(cpuPercent: Double, residentBytes: Int, availableBytes: Int, collaboratorRunning: Bool, experiment: String,
                running: [String]? = nil) {
        self.cpuPercent = cpuPercent
        self.residentBytes = residentBytes
        self.availableBytes = availableBytes
        self.collaboratorRunning = collaboratorRunning
        self.experiment = experiment
        self.running = running ?? (collaboratorRunning && !experiment.isEmpty ? [experiment] : [])
    }

    private enum CodingKeys: String, CodingKey { case cpuPercent, residentBytes, availableBytes, collaboratorRunning, experiment, running }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(cpuPercent: try c.decode(Double.self, forKey: .cpuPercent), residentBytes: try c.decode(Int.self, forKey: .residentBytes),
                  availableBytes: try c.decode(Int.self, forKey: .availableBytes),
                  collaboratorRunning: try c.decode(Bool.self, forKey: .collaboratorRunning), experiment: try c.decode(String.self, forKey: .experiment),
                  running: c.contains(.running) ? try c.decode([String].self, forKey: .running) : nil)
    }
}

/// Where a site is with the experiment it last handled, sent with every request for work so the
/// Director can tell what the site still needs.
public enum SiteWorkState: UInt8, Sendable, Hashable, Codable {
    /// Nothing handled yet (a fresh Envoy).
    case idle = 0
    /// Decided on an offer (accepted or refused); no collaborator started.
    case decided = 1
    /// Its collaborator is running.
    case running = 2
    /// Its collaborator has exited.
    case exited = 3
}

/// Where a site is with one experiment: which start of its aggregator it last ran against, and how.
public struct SiteWork: Sendable, Hashable, Codable {
    public var experiment: String
    public var launch: Int
    public var state: SiteWorkState

    public init(experiment: String, launch: Int, state: SiteWorkState) {
        self.experiment = experiment
        self.launch = launch
        self.state = state
    }
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
    /// Every experiment the site handled lately (those whose collaborators run among them), most
    /// recent last. Added at the end of the message: an older Envoy's request reads as the one
    /// experiment of `experiment`, `launch` and `state`.
    public var handled: [SiteWork]

    public init(experiment: String, launch: Int, state: SiteWorkState, maximumWaitSeconds: Double, handled: [SiteWork]? = nil) {
        self.experiment = experiment
        self.launch = launch
        self.state = state
        self.maximumWaitSeconds = maximumWaitSeconds
        self.handled = handled ?? (experiment.isEmpty ? [] : [SiteWork(experiment: experiment, launch: launch, state: state)])
    }

    private enum CodingKeys: String, CodingKey { case experiment, launch, state, maximumWaitSeconds, handled }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(experiment: try c.decode(String.self, forKey: .experiment), launch: try c.decode(Int.self, forKey: .launch),
                  state: try c.decode(SiteWorkState.self, forKey: .state), maximumWaitSeconds: try c.decode(Double.self, forKey: .maximumWaitSeconds),
                  handled: c.contains(.handled) ? try c.decode([SiteWork].self, forKey: .handled) : nil)
    }
}

/// What a site should do now.
public struct WorkAssignment: WireMessage {
    public static let type = MessageType(rawValue: 0x0204)

    public enum Action: UInt8, Sendable, Hashable, Codable {
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
}

/// Asks for an experiment's archive; answered by `ArchiveReply` with the archive streamed.
public struct ArchiveRequest: WireMessage {
    public static let type = MessageType(rawValue: 0x0205)
    public var experiment: String
    public init(experiment: String) { self.experiment = experiment }
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
}

/// What happened at a site with an experiment; answered with `OkReply`.
public struct SiteReport: WireMessage {
    public static let type = MessageType(rawValue: 0x0207)

    public enum Event: UInt8, Sendable, Hashable, Codable {
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
}

// MARK: - Limits checked on decoding

extension EnvoyWelcome: WireChecked {
    func check() throws(WireFieldError) {
        try WireFieldError.require(heartbeatPeriod.isFinite && heartbeatPeriod > 0 && heartbeatPeriod <= 86_400, "heartbeatPeriod", "is \(heartbeatPeriod)")
        try WireFieldError.shape(sampleShape, "sampleShape")
        try WireFieldError.shape(targetShape, "targetShape")
    }
}

extension EnvoyHeartbeat: WireChecked {
    func check() throws(WireFieldError) {
        try WireFieldError.count(residentBytes, "residentBytes")
        try WireFieldError.count(availableBytes, "availableBytes")
    }
}

extension EnvoyRegistration: WireChecked {
    func check() throws(WireFieldError) {
        try WireFieldError.require((1...EnvoyRegistration.maximumCapacity).contains(capacity), "capacity",
                                   "is \(capacity), not 1 to \(EnvoyRegistration.maximumCapacity)")
    }
}

extension EnvoyRegistration {
    /// The most collaborators one site may say it runs at once.
    public static let maximumCapacity = 256
}

extension WorkRequest: WireChecked {
    func check() throws(WireFieldError) {
        try WireFieldError.count(launch, "launch")
        try WireFieldError.wait(maximumWaitSeconds, "maximumWaitSeconds")
        for work in handled { try WireFieldError.count(work.launch, "handled.launch") }
    }
}

extension WorkAssignment: WireChecked {
    func check() throws(WireFieldError) {
        try WireFieldError.count(launch, "launch")
        try WireFieldError.count(archiveSize, "archiveSize")
        try WireFieldError.count(aggregatorPort, "aggregatorPort", limit: 65535)
        for rows in collaboratorRows { try WireFieldError.count(rows, "collaboratorRows") }
        try WireFieldError.require(collaboratorRows.isEmpty || collaboratorRows.count == collaborators.count, "collaboratorRows",
                                   "\(collaboratorRows.count) counts for \(collaborators.count) collaborators")
    }
}

extension SiteReport: WireChecked {
    func check() throws(WireFieldError) { try WireFieldError.count(launch, "launch") }
}
