import FLCore

// The collaborator ↔ aggregator protocol. The collaborator dials out, says hello, then loops:
// ask for tasks (a long-poll the aggregator answers the moment the round's model exists), fetch
// the round's model once, run the tasks, send each task's result (with its model, streamed).

/// First request of a collaborator: who it claims to be (checked against its certificate) and
/// which experiment it belongs to.
public struct CollaboratorHello: WireMessage {
    public static let type = MessageType(rawValue: 0x0100)
    public static let protocolVersion: UInt16 = 1

    public var collaborator: String
    public var experiment: String
    public var version: UInt16

    public init(collaborator: String, experiment: String, version: UInt16 = CollaboratorHello.protocolVersion) {
        self.collaborator = collaborator
        self.experiment = experiment
        self.version = version
    }
}

/// The aggregator's answer to a hello.
public struct AggregatorWelcome: WireMessage {
    public static let type = MessageType(rawValue: 0x0101)

    public var experiment: String
    public var roundsToTrain: Int
    /// The round in progress now (0-based).
    public var currentRound: Int
    /// Names and shapes every model update must have.
    public var layout: ModelLayout
    /// Whether the experiment waits for this site's feature statistics (`FeatureStatisticsReport`)
    /// before its first round: the sites standardize their features with the federation's.
    public var wantsFeatureStatistics: Bool
    /// Secure aggregation's parameters when the plan turns it on: training results then go through
    /// its stages (`SecAggKeys`…) instead of `TaskResultMessage`. Added at the end of the message
    /// (issue 15): an older aggregator's welcome, without it, reads as nil.
    public var secureAggregation: SecureAggregationOffer?
    /// Distributed differential privacy's per-site clipping and noise, when the plan asks for it.
    public var distributedPrivacy: DistributedPrivacyOffer?

    public init(experiment: String, roundsToTrain: Int, currentRound: Int, layout: ModelLayout, wantsFeatureStatistics: Bool = false,
                secureAggregation: SecureAggregationOffer? = nil, distributedPrivacy: DistributedPrivacyOffer? = nil) {
        self.experiment = experiment
        self.roundsToTrain = roundsToTrain
        self.currentRound = currentRound
        self.layout = layout
        self.wantsFeatureStatistics = wantsFeatureStatistics
        self.secureAggregation = secureAggregation
        self.distributedPrivacy = distributedPrivacy
    }

    private enum CodingKeys: String, CodingKey {
        case experiment, roundsToTrain, currentRound, layout, wantsFeatureStatistics, secureAggregation, distributedPrivacy
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(experiment: try c.decode(String.self, forKey: .experiment), roundsToTrain: try c.decode(Int.self, forKey: .roundsToTrain),
                  currentRound: try c.decode(Int.self, forKey: .currentRound), layout: try c.decode(ModelLayout.self, forKey: .layout),
                  wantsFeatureStatistics: try c.decode(Bool.self, forKey: .wantsFeatureStatistics),
                  secureAggregation: c.contains(.secureAggregation) ? try c.decode(SecureAggregationOffer?.self, forKey: .secureAggregation) : nil,
                  distributedPrivacy: c.contains(.distributedPrivacy) ? try c.decode(DistributedPrivacyOffer?.self, forKey: .distributedPrivacy) : nil)
    }
}

extension AggregatorWelcome: WireChecked {
    func check() throws(WireFieldError) {
        try WireFieldError.round(roundsToTrain, "roundsToTrain")
        try WireFieldError.round(currentRound, "currentRound")
    }
}

/// A site's contribution to the federation's standardizer: how many training rows it has, and each
/// feature's sum and sum of squares over them (never a row). A site with fewer rows than its own
/// minimum declines instead, saying why, and sends no sums. Answered by `OkReply`.
public struct FeatureStatisticsReport: WireMessage {
    public static let type = MessageType(rawValue: 0x0107)
    /// Most features a report may carry.
    public static let maximumFeatures = 1 << 20

    public var count: Int
    public var sum: [Double]
    public var sumOfSquares: [Double]
    /// Why the site sends nothing, when it declines; empty otherwise.
    public var declined: String

    public init(count: Int, sum: [Double], sumOfSquares: [Double], declined: String = "") {
        self.count = count
        self.sum = sum
        self.sumOfSquares = sumOfSquares
        self.declined = declined
    }

    /// A site's refusal to send statistics.
    public static func declining(_ reason: String) -> FeatureStatisticsReport {
        FeatureStatisticsReport(count: 0, sum: [], sumOfSquares: [], declined: reason)
    }
}

extension FeatureStatisticsReport: WireChecked {
    func check() throws(WireFieldError) {
        try WireFieldError.count(count, "count")
        try WireFieldError.require(sum.count == sumOfSquares.count && sum.count <= FeatureStatisticsReport.maximumFeatures, "sumOfSquares",
                                   "\(sumOfSquares.count) sums of squares for \(sum.count) sums")
    }
}

/// Asks for the tasks of the next round this collaborator has not done yet.
public struct TaskRequest: WireMessage {
    public static let type = MessageType(rawValue: 0x0102)

    /// The first round the collaborator has not completed.
    public var round: Int
    /// How long the aggregator may hold the request before answering `wait`.
    public var maximumWaitSeconds: Double

    public init(round: Int, maximumWaitSeconds: Double) {
        self.round = round
        self.maximumWaitSeconds = maximumWaitSeconds
    }
}

extension TaskRequest: WireChecked {
    func check() throws(WireFieldError) {
        try WireFieldError.round(round, "round")
        try WireFieldError.wait(maximumWaitSeconds, "maximumWaitSeconds")
    }
}

/// What a collaborator should do now.
public struct TaskReply: WireMessage {
    public static let type = MessageType(rawValue: 0x0103)

    public enum Status: UInt8, Sendable, Codable {
        /// Run `tasks` for `round`.
        case run = 1
        /// Nothing yet: ask again (the long-poll timed out).
        case wait = 2
        /// The experiment is over: exit.
        case done = 3
    }

    public var status: Status
    public var round: Int
    public var tasks: [String]
    /// Why the experiment ended, when `status == .done` and it did not end normally.
    public var reason: String
    /// Which attempt of `round` this is (the straggler policy retries a round): secure aggregation
    /// binds its keys to it. Added at the end (issue 15): an older aggregator's reply reads as 0.
    public var attempt: Int
    /// The round's secure aggregation terms, for a site that trains in it under secure aggregation.
    public var secureAggregation: SecureAggregationTerms?

    public init(status: Status, round: Int, tasks: [String] = [], reason: String = "", attempt: Int = 0,
                secureAggregation: SecureAggregationTerms? = nil) {
        self.status = status
        self.round = round
        self.tasks = tasks
        self.reason = reason
        self.attempt = attempt
        self.secureAggregation = secureAggregation
    }

    private enum CodingKeys: String, CodingKey { case status, round, tasks, reason, attempt, secureAggregation }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(status: try c.decode(Status.self, forKey: .status), round: try c.decode(Int.self, forKey: .round),
                  tasks: try c.decode([String].self, forKey: .tasks), reason: try c.decode(String.self, forKey: .reason),
                  attempt: c.contains(.attempt) ? try c.decode(Int.self, forKey: .attempt) : 0,
                  secureAggregation: c.contains(.secureAggregation) ? try c.decode(SecureAggregationTerms?.self, forKey: .secureAggregation) : nil)
    }
}

extension TaskReply: WireChecked {
    func check() throws(WireFieldError) {
        try WireFieldError.round(round, "round")
        try WireFieldError.count(attempt, "attempt", limit: SecAggLimits.maximumAttempt)
    }
}

/// Asks for the aggregated model of a round; answered by `ModelReply` with the tensors streamed.
public struct ModelRequest: WireMessage {
    public static let type = MessageType(rawValue: 0x0104)
    public var round: Int
    public init(round: Int) { self.round = round }
}

extension ModelRequest: WireChecked {
    func check() throws(WireFieldError) { try WireFieldError.round(round, "round") }
}

/// Announces the model streamed in the chunks that follow.
public struct ModelReply: WireMessage {
    public static let type = MessageType(rawValue: 0x0105)
    public var round: Int
    public var layout: ModelLayout
    public init(round: Int, layout: ModelLayout) {
        self.round = round
        self.layout = layout
    }
}

extension ModelReply: WireChecked {
    func check() throws(WireFieldError) { try WireFieldError.round(round, "round") }
}

/// The outcome of one task: metrics, the number of samples behind them, and for training tasks
/// the updated model, streamed in the chunks that follow.
public struct TaskResultMessage: WireMessage {
    public static let type = MessageType(rawValue: 0x0106)

    public var round: Int
    public var task: String
    public var sampleCount: Int
    public var metrics: [String: Double]
    /// Layout of the streamed model, when the task produced one.
    public var layout: ModelLayout?

    public init(round: Int, task: String, sampleCount: Int, metrics: [String: Double], layout: ModelLayout?) {
        self.round = round
        self.task = task
        self.sampleCount = sampleCount
        self.metrics = metrics
        self.layout = layout
    }
}

// `sampleCount` is not checked: it has always travelled as any 64-bit value.
extension TaskResultMessage: WireChecked {
    func check() throws(WireFieldError) { try WireFieldError.round(round, "round") }
}
