import FLCore

/// What a training run reports: loss and accuracy over the minibatches of its last epoch (measured while
/// the model was changing, as PyTorch training loops report them) and the number of training samples,
/// which is the weight of this update in a sample-weighted average.
public struct TrainingMetrics: Sendable, Hashable {
    public var loss: Double
    public var accuracy: Double
    /// Training rows (not rows × epochs).
    public var sampleCount: Int
    /// Mean minibatch loss of every epoch, in order.
    public var epochLosses: [Double]
    /// Optimizer steps taken (minibatches over every epoch).
    public var steps: Int = 0

    public init(loss: Double, accuracy: Double, sampleCount: Int, epochLosses: [Double]) {
        self.loss = loss
        self.accuracy = accuracy
        self.sampleCount = sampleCount
        self.epochLosses = epochLosses
    }
}

/// Loss and accuracy of a fixed model on a dataset.
public struct EvaluationMetrics: Sendable, Hashable {
    public var loss: Double
    public var accuracy: Double
    public var sampleCount: Int

    public init(loss: Double, accuracy: Double, sampleCount: Int) {
        self.loss = loss
        self.accuracy = accuracy
        self.sampleCount = sampleCount
    }
}

/// Minibatch training and evaluation of one architecture.
///
/// Owns the network's scratch memory and the batch buffers, so repeated calls allocate nothing per step.
/// Not thread-safe: one trainer per thread.
public final class Trainer {
    public let architecture: NetworkArchitecture
    public let network: DenseNetwork
    private var batchFeatures: [Float] = []
    private var batchLabels: [Int32] = []
    private var gradient: [Float]

    /// - Throws: `NetworkArchitectureError` when the architecture is invalid.
    public init(architecture: NetworkArchitecture) throws {
        try architecture.validate()
        self.architecture = architecture
        self.network = DenseNetwork(architecture: architecture)
        self.gradient = [Float](repeating: 0, count: network.layout.count)
    }

    /// Trains `model` in place for `epochs` passes over `data`, in shuffled minibatches of `batchSize` (the
    /// last one of an epoch may be smaller). Epoch e visits the rows in the order of a permutation seeded
    /// by `SeededGenerator.derive(seed, e)`, so equal inputs give a bit-identical model.
    ///
    /// `proximalMu` > 0 adds FedProx's proximal term (Li et al. 2020), `μ/2·‖w − w₀‖²` with `w₀` the
    /// model as given, to the loss: its gradient `μ·(w − w₀)` pulls each step back towards the global
    /// model, so sites whose data differ drift apart less over their local epochs. `correction` (as
    /// many values as the model) is added to every gradient: SCAFFOLD's `c − cᵢ`.
    /// - Throws: `TrainingError` when the model, data or parameters do not fit, or the loss diverges.
    public func train(
        model: inout ModelState, data: Dataset, epochs: Int, batchSize: Int, optimizer: inout some Optimizer, seed: UInt64,
        proximalMu: Double = 0, correction: [Float]? = nil
    ) throws -> TrainingMetrics {
        try check(model: model, data: data)
        guard epochs >= 0 else { throw TrainingError.invalidParameter("epochs must be non-negative, got \(epochs)") }
        guard batchSize >= 1 else { throw TrainingError.invalidParameter("batch size must be positive, got \(batchSize)") }
        guard !data.isEmpty else { throw TrainingError.emptyDataset }
        guard optimizer.layout == model.layout else { throw TrainingError.layoutMismatch("the optimizer was built for another layout") }
        guard proximalMu >= 0, proximalMu.isFinite else { throw TrainingError.invalidParameter("proximal mu must be 0 or more, got \(proximalMu)") }
        let anchor: [Float]? = proximalMu > 0 ? model.values : nil
        if let correction, correction.count != model.values.count {
            throw TrainingError.layoutMismatch("a gradient correction of \(correction.count) values for a model of \(model.values.count)")
        }
        var steps = 0

        let n = data.count, d = data.featureCount
        let size = min(batchSize, n)
        network.reserve(batchCapacity: size)
        if batchFeatures.count < size * d { batchFeatures = [Float](repeating: 0, count: size * d) }
        if batchLabels.count < size { batchLabels = [Int32](repeating: 0, count: size) }

        var epochLosses: [Double] = []
        var last = BatchStatistics()
        for epoch in 0..<epochs {
            var rng = SeededGenerator(seed: SeededGenerator.derive(seed, UInt64(epoch)))
            let order = rng.permutation(n)
            var stats = BatchStatistics()
            var start = 0
            while start < n {
                let rows = min(size, n - start)
                stats = stats + step(model: &model, data: data, order: order, start: start, rows: rows, optimizer: &optimizer,
                                     proximal: anchor.map { (Float(proximalMu), $0) }, correction: correction)
                steps += 1
                start += rows
            }
            guard stats.lossSum.isFinite, model.isFinite else { throw TrainingError.diverged(epoch: epoch) }
            epochLosses.append(stats.meanLoss)
            last = stats
        }
        var metrics = TrainingMetrics(loss: last.meanLoss, accuracy: last.accuracy, sampleCount: n, epochLosses: epochLosses)
        metrics.steps = steps
        return metrics
    }

    /// One minibatch: gather the rows, compute the gradient, update the parameters.
    private func step(
        model: inout ModelState, data: Dataset, order: [Int], start: Int, rows: Int, optimizer: inout some Optimizer,
        proximal: (mu: Float, anchor: [Float])?, correction: [Float]?
    ) -> BatchStatistics {
        let d = data.featureCount
        batchFeatures.withUnsafeMutableBufferPointer { xb in
            batchLabels.withUnsafeMutableBufferPointer { yb in
                data.features.withUnsafeBufferPointer { src in
                    data.labels.withUnsafeBufferPointer { labels in
                        order.withUnsafeBufferPointer { order in
                            for i in 0..<rows {
                                let r = order[start + i]
                                MatrixKernels.copy(src.baseAddress! + r * d, to: xb.baseAddress! + i * d, count: d)
                                yb[i] = labels[r]
                            }
                        }
                    }
                }
            }
        }
        return model.values.withUnsafeMutableBufferPointer { p in
            gradient.withUnsafeMutableBufferPointer { g in
                let stats = batchFeatures.withUnsafeBufferPointer { xb in
                    batchLabels.withUnsafeBufferPointer { yb in
                        network.lossAndGradient(
                            parameters: UnsafeBufferPointer(p),
                            inputs: UnsafeBufferPointer(rebasing: xb[0..<(rows * d)]),
                            labels: UnsafeBufferPointer(rebasing: yb[0..<rows]),
                            gradient: g)
                    }
                }
                if let (mu, anchor) = proximal {
                    anchor.withUnsafeBufferPointer { w0 in
                        for i in 0..<g.count { g[i] += mu * (p[i] - w0[i]) }
                    }
                }
                if let correction {
                    correction.withUnsafeBufferPointer { c in
                        for i in 0..<g.count { g[i] += c[i] }
                    }
                }
                optimizer.step(parameters: p, gradient: UnsafeBufferPointer(g))
                return stats
            }
        }
    }

    /// Mean loss and accuracy of `model` on every row of `data`.
    /// - Throws: `TrainingError` when the model or data do not fit the architecture.
    public func evaluate(model: ModelState, data: Dataset) throws -> EvaluationMetrics {
        try check(model: model, data: data)
        let stats = network.evaluate(model: model, data: data)
        return EvaluationMetrics(loss: stats.meanLoss, accuracy: stats.accuracy, sampleCount: stats.count)
    }

    private func check(model: ModelState, data: Dataset) throws {
        if let difference = network.layout.difference(from: model.layout) {
            throw TrainingError.layoutMismatch("model does not fit \(architecture): \(difference)")
        }
        guard data.featureCount == architecture.inputCount else {
            throw TrainingError.dataMismatch("dataset has \(data.featureCount) features, \(architecture) expects \(architecture.inputCount)")
        }
        guard data.classCount <= architecture.classCount else {
            throw TrainingError.dataMismatch("dataset has \(data.classCount) classes, \(architecture) has \(architecture.classCount) outputs")
        }
    }
}

/// Training that cannot run or did not converge.
public enum TrainingError: Error, Sendable, Equatable, CustomStringConvertible {
    case layoutMismatch(String)
    case dataMismatch(String)
    case invalidParameter(String)
    case emptyDataset
    /// The loss or a parameter became NaN or infinite (learning rate too high?).
    case diverged(epoch: Int)

    public var description: String {
        switch self {
        case .layoutMismatch(let s), .dataMismatch(let s), .invalidParameter(let s): s
        case .emptyDataset: "cannot train on an empty dataset"
        case .diverged(let epoch): "training diverged in epoch \(epoch + 1): the loss or a parameter is no longer finite (lower the learning rate?)"
        }
    }
}
