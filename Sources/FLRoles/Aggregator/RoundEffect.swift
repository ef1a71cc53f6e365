import FLCore
import FLWire

/// What the round machine decided should happen outside it, in the order it decided. The
/// Aggregator carries these out after releasing its state lock: nothing decided under the lock
/// waits for a socket, a disk or standard output.
enum RoundEffect<Waiter> {
    /// Answer a held or current request for tasks.
    case reply(Waiter, TaskReply)
    /// Answer a held secure aggregation stage request (its reply, or an `ErrorReply`).
    case stageReply(Waiter, any WireMessage)
    /// After `seconds`, `secureAggregationTimedOut(round:attempt:stage:)`.
    case secureAggregationTimer(round: Int, attempt: Int, stage: SecureAggregationStage, after: Double)
    case log(LogLevel, String, [String: String])
    case event(AggregatorEvent)
    case metrics([MetricRecord])
    /// After `seconds`, `expire(token)` the held request (answered "wait" if still held).
    case expireRequest(token: UInt64, after: Double)
    /// After `seconds`, `roundTimedOut(round:attempt:)`.
    case roundTimer(round: Int, attempt: Int, after: Double)
    /// After `seconds`, `statisticsTimedOut(attempt:)`.
    case statisticsTimer(attempt: Int, after: Double)
    case save(RoundSave)
    /// Read the best model back (after the saves before it) and hand it to `bestModelLoaded(_:)`.
    case loadBestModel
    /// The experiment is over: report `outcome` once the saves before it have run.
    case finished(AggregatorOutcome)
}

/// A write the round machine asks for, run in order on the Aggregator's save queue.
enum RoundSave {
    /// Round 0's model with the federation's standardizer, before anyone trains on it.
    case standardizedModel(AggregatorCheckpoint)
    /// The checkpoint after a round (its summary into the journal first), then `last` linked to it.
    case roundCheckpoint(AggregatorCheckpoint, summary: RoundInfo, after: String)
    /// The model a round started from became the best: link `source` as the best model, with its note.
    case bestModel(source: String, note: BestModelNote)
}

extension RoundEffect {
    /// Whether the effect must run in the order it was decided, one after another (log lines,
    /// events, metrics, saves, the outcome); replies and timers need not.
    var keepsOrder: Bool {
        switch self {
        case .reply, .stageReply, .expireRequest, .roundTimer, .statisticsTimer, .secureAggregationTimer: false
        case .log, .event, .metrics, .save, .loadBestModel, .finished: true
        }
    }
}

extension RoundEffect: Sendable where Waiter: Sendable {}
extension RoundSave: Sendable {}
