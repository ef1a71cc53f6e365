import FLCore

/// Turns the updates of one round into the next global model, folding each update in as it
/// arrives so the aggregator holds a running sum, never N models.
///
/// The aggregator calls `begin` once per round, `add` once per accepted update (serialised: never
/// two at once), then `finish`. Implementations that keep state across rounds (server momentum,
/// adaptive optimizers) expose it through `state` so a checkpoint can restore it.
///
/// Folding an update in can never corrupt the round: `add` computes the new running sum into the
/// update's own buffer and takes it only when every value is finite, so one hostile or broken update
/// (NaN, infinity, or finite values whose weighted sum overflows float32) is refused and the sum of
/// the others stays exactly as it was.
public protocol AggregationFunction: AnyObject {
    /// The name a plan uses for this function (`fedavg`).
    static var name: String { get }
    /// Starts a round whose global model is `global`.
    func begin(global: ModelState)
    /// Folds in one update (the model's values, flat) with its weight (the number of samples behind it).
    ///
    /// `update` is the update's own model-sized buffer, and is used as scratch: the running sum plus
    /// the weighted update is computed into it in one pass. When every value of that is finite, the
    /// buffer becomes the running sum and `update` receives the old sum's storage in exchange
    /// (contents undefined; same count), so nothing is copied or allocated. Otherwise the running sum
    /// and `totalWeight` are left bit for bit as they were, `update`'s contents are undefined, and the
    /// result names the first value that was not finite.
    func add(_ update: inout [Float], weight: Double) -> FoldResult
    /// The total weight folded in this round.
    var totalWeight: Double { get }
    /// Writes the next global model into `global` (which still holds this round's model).
    /// Called only when `totalWeight > 0`. The result may not be finite even though the sum is (e.g.
    /// FedAvgM with an absurd server learning rate): the aggregator checks it before it is saved or served.
    func finish(into global: inout ModelState)
    /// State that survives rounds, by name, for checkpoints (empty when stateless).
    var state: [String: [Float]] { get }
    /// Restores what `state` returned.
    func restore(_ state: [String: [Float]]) throws
}

/// What became of an update offered to an aggregation function.
public enum FoldResult: Sendable, Hashable {
    /// Folded in: the running sum and the total weight include it.
    case added
    /// Left out because the running sum would no longer be finite; `firstNonFinite` is the index (in
    /// the model's flat values) of the first value that would have been NaN or infinite.
    case refused(firstNonFinite: Int)
}

/// Settings common to the aggregation functions, read from the plan.
public struct AggregationSettings: Sendable, Hashable {
    /// `fedavg` or `fedavgm`.
    public var function: String
    /// Server learning rate (FedAvgM).
    public var serverLearningRate: Double
    /// Server momentum (FedAvgM).
    public var serverMomentum: Double

    public init(function: String = FedAvg.name, serverLearningRate: Double = 1.0, serverMomentum: Double = 0.9) {
        self.function = function
        self.serverLearningRate = serverLearningRate
        self.serverMomentum = serverMomentum
    }

    /// The names a plan may use.
    public static let known = [FedAvg.name, FedAvgM.name]

    /// Builds the function named in the settings.
    public func make(layout: ModelLayout) throws -> any AggregationFunction {
        switch function {
        case FedAvg.name: return FedAvg(layout: layout)
        case FedAvgM.name: return FedAvgM(layout: layout, learningRate: Float(serverLearningRate), momentum: Float(serverMomentum))
        default:
            throw AggregationError("unknown aggregation function '\(function)' (expected one of: \(AggregationSettings.known.joined(separator: ", ")))")
        }
    }
}

/// An aggregation that cannot be set up or restored.
public struct AggregationError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
