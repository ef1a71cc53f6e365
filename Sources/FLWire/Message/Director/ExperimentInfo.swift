import FLPKI

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

/// Where an experiment is in its life.
/// On the wire it is the index of its case; in the Director's saved state, its name.
public enum ExperimentStatus: String, Sendable, Hashable, Codable, CaseIterable, WireCaseIndexed {
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
}

extension ExperimentInfo: WireChecked {
    // `currentRound` is -1 when no round is being trained, so it is not checked.
    func check() throws(WireFieldError) {
        try WireFieldError.count(archiveSize, "archiveSize")
        try WireFieldError.count(queuePosition, "queuePosition")
        try WireFieldError.round(roundsToTrain, "roundsToTrain")
        try WireFieldError.round(roundsCompleted, "roundsCompleted")
        try WireFieldError.count(launches, "launches")
    }
}
