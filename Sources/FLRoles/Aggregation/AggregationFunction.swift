import Foundation
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
    /// Left out because it could not be kept (a rule that holds every update, and a spill file that
    /// cannot grow); `reason` says why.
    case notKept(reason: String)
}

/// How a round's updates become the next global model, as the plan's `aggregator.settings` say.
public struct AggregationSettings: Sendable, Hashable {
    /// The plan's `aggregation`: a combining rule, and for the FedOpt family a server optimizer.
    public enum Function: String, Sendable, Hashable, CaseIterable {
        case fedavg, fedavgm, fedadam, fedyogi, fedadagrad, median, trimmedMean = "trimmed_mean", krum, multiKrum = "multi_krum", scaffold
    }

    public var function: String
    /// The server optimizer's step size; nil takes the function's own default (1 for fedavgm, 0.01 for the adaptive ones).
    public var serverLearningRate: Double?
    /// fedavgm's momentum; the adaptive optimizers' β₁.
    public var serverMomentum: Double
    /// The adaptive optimizers' β₂ (fedadam, fedyogi).
    public var serverBeta2: Double
    /// The adaptive optimizers' τ (how small the step's denominator may get).
    public var serverTau: Double
    /// trimmed_mean: the fraction of values dropped at each end of every coordinate.
    public var trimmedMeanBeta: Double
    /// krum, multi_krum: how many hostile sites to withstand.
    public var krumF: Int
    /// multi_krum: how many of the best-scored updates to average (nil: n − f).
    public var multiKrumM: Int?
    /// Clip each update's change to this L2 norm before combining (nil: no clipping).
    public var maxUpdateNorm: Double?
    /// Bytes of updates the rules that keep them all hold in memory before spilling to a file.
    public var memoryBudget: Int
    /// Where such a spill file goes (the aggregator's checkpoint folder; nil: the temporary folder).
    public var spillDirectory: String?

    public init(function: String = Function.fedavg.rawValue, serverLearningRate: Double? = nil, serverMomentum: Double = 0.9,
                serverBeta2: Double = 0.99, serverTau: Double = 1e-3, trimmedMeanBeta: Double = 0.2, krumF: Int = 1, multiKrumM: Int? = nil,
                maxUpdateNorm: Double? = nil, memoryBudget: Int = 1 << 30, spillDirectory: String? = nil) {
        self.function = function
        self.serverLearningRate = serverLearningRate
        self.serverMomentum = serverMomentum
        self.serverBeta2 = serverBeta2
        self.serverTau = serverTau
        self.trimmedMeanBeta = trimmedMeanBeta
        self.krumF = krumF
        self.multiKrumM = multiKrumM
        self.maxUpdateNorm = maxUpdateNorm
        self.memoryBudget = memoryBudget
        self.spillDirectory = spillDirectory
    }

    /// The names a plan may use.
    public static let known = Function.allCases.map(\.rawValue)

    /// Builds the function named in the settings (wrapped in clipping when `maxUpdateNorm` is set).
    public func make(layout: ModelLayout) throws -> any AggregationFunction {
        guard let named = Function(rawValue: function) else {
            throw AggregationError("unknown aggregation function '\(function)' (expected one of: \(AggregationSettings.known.joined(separator: ", ")))")
        }
        let spill = spillDirectory ?? FileManager.default.temporaryDirectory.path
        func optimizer(_ kind: ServerOptimizer.Kind) -> any AggregationFunction {
            FedOpt(layout: layout, optimizer: ServerOptimizer(kind: kind, count: layout.count,
                                                              learningRate: Float(serverLearningRate ?? (kind == .momentum ? 1 : 0.01)),
                                                              beta1: Float(serverMomentum), beta2: Float(serverBeta2), tau: Float(serverTau)))
        }
        func robust(_ rule: RobustAggregation.Rule) -> any AggregationFunction {
            RobustAggregation(layout: layout, rule: rule, memoryBudget: memoryBudget, spillDirectory: spill)
        }
        let base: any AggregationFunction = switch named {
        // SCAFFOLD's server side is FedAvg over the model and its control tensors (ScaffoldControl).
        case .fedavg, .scaffold: FedAvg(layout: layout)
        case .fedavgm: optimizer(.momentum)
        case .fedadam: optimizer(.adam)
        case .fedyogi: optimizer(.yogi)
        case .fedadagrad: optimizer(.adagrad)
        case .median: robust(.median)
        case .trimmedMean: robust(.trimmedMean(beta: trimmedMeanBeta))
        case .krum: robust(.krum(f: krumF))
        case .multiKrum: robust(.multiKrum(f: krumF, m: multiKrumM))
        }
        return maxUpdateNorm.map { ClippedAggregation(base, maxNorm: $0) } ?? base
    }
}

/// An aggregation that cannot be set up or restored.
public struct AggregationError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
