import FLWire

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
    case roundClosed(RoundInfo)
    /// A round completed before a restart, read back from the round journal when resuming, so
    /// whoever follows the events (the Director) has every round once, even one it missed.
    case roundRecovered(RoundInfo)
    /// The state after this many rounds is on disk: a restart with `--resume` continues from here.
    case checkpointSaved(roundsCompleted: Int)
    case updateRejected(collaborator: String, reason: String)
    case finished(AggregatorOutcome)
}
