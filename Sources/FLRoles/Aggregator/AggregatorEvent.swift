/// What a round came to.
public struct RoundSummary: Sendable, Hashable {
    /// The round index (0-based); equal to `roundsToTrain` for the final validation.
    public var round: Int
    public var isFinalValidation: Bool
    public var attempt: Int
    /// Collaborators that completed every task of the round.
    public var reported: [String]
    /// Collaborators that were assigned tasks but did not complete them.
    public var missing: [String]
    /// Sample-weighted aggregates, keyed `task/metric`.
    public var metrics: [String: Double]
    /// Seconds from the round's start to its close.
    public var duration: Double
    /// Whether this round's model became the best so far.
    public var isBest: Bool
    /// Whether this round validated the best model once more, after the final validation.
    public var isBestValidation: Bool = false
    /// Each site's own metrics (`task/metric` → value), for the final and best validations: the
    /// weighted total hides how different the sites are.
    public var siteMetrics: [String: [String: Double]] = [:]
}

/// How an experiment ended.
public struct AggregatorOutcome: Sendable, Hashable {
    public var succeeded: Bool
    /// Why it failed, or a short summary when it succeeded.
    public var reason: String
    public var roundsCompleted: Int
    public var bestValue: Double?
    /// The last aggregated metrics (from the final validation when there is one).
    public var finalMetrics: [String: Double]
}

/// Moments an aggregator reports as it runs: for progress lines, and for the Director, which reads
/// them from a child aggregator's standard output.
public enum AggregatorEvent: Sendable {
    case listening(port: Int)
    case roundStarted(round: Int, attempt: Int, collaborators: [String], isFinalValidation: Bool)
    case roundClosed(RoundSummary)
    /// A round completed before a restart, read back from the round journal when resuming, so
    /// whoever follows the events (the Director) has every round once, even one it missed.
    case roundRecovered(RoundSummary)
    /// The state after this many rounds is on disk: a restart with `--resume` continues from here.
    case checkpointSaved(roundsCompleted: Int)
    case updateRejected(collaborator: String, reason: String)
    case finished(AggregatorOutcome)
}
