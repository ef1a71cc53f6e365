#if canImport(Glibc)
import Glibc
#endif
import FLCore

/// Loss and accuracy summed over a batch or a whole dataset.
public struct BatchStatistics: Sendable, Hashable {
    /// Sum of the per-sample cross-entropy losses (natural log).
    public var lossSum: Double
    /// Samples whose highest logit is their label (ties go to the lowest class index).
    public var correct: Int
    /// Samples counted.
    public var count: Int

    public init(lossSum: Double = 0, correct: Int = 0, count: Int = 0) {
        self.lossSum = lossSum
        self.correct = correct
        self.count = count
    }

    /// Mean cross-entropy loss; 0 for no samples.
    public var meanLoss: Double { count == 0 ? 0 : lossSum / Double(count) }
    /// Fraction of samples classified correctly; 0 for no samples.
    public var accuracy: Double { count == 0 ? 0 : Double(correct) / Double(count) }

    public static func + (a: BatchStatistics, b: BatchStatistics) -> BatchStatistics {
        BatchStatistics(lossSum: a.lossSum + b.lossSum, correct: a.correct + b.correct, count: a.count + b.count)
    }
}

/// The forward and backward passes of a `NetworkArchitecture` on flat float32 buffers.
///
/// Parameters and gradients are single buffers with the architecture's `layout`; the network owns only
/// scratch memory (activations, deltas, transposed weights), allocated once for a batch capacity and
/// grown on demand, so a training step allocates nothing. Not thread-safe: one network per thread.
public final class DenseNetwork {
    public let architecture: NetworkArchitecture
    public let layout: ModelLayout
    /// The largest batch the scratch memory holds; larger inputs are processed in chunks (forward only)
    /// or grow it (gradients).
    public private(set) var batchCapacity: Int

    private let widths: [Int]
    private let layers: Int
    private let weightOffsets: [Int]
    private let biasOffsets: [Int]
    private let relu: Bool
    private let maximumWidth: Int

    private var storage: UnsafeMutablePointer<Float>
    /// Output of each layer, `[batch × widths[l+1]]`; the last one holds the logits.
    private var outputs: [UnsafeMutablePointer<Float>] = []
    /// Each weight matrix transposed to `[in × out]`, so the forward product is a row update.
    private var transposedWeights: [UnsafeMutablePointer<Float>] = []
    private var delta: UnsafeMutablePointer<Float>
    private var previousDelta: UnsafeMutablePointer<Float>

    /// - Precondition: the architecture is valid (see `NetworkArchitecture.validate()`).
    public init(architecture: NetworkArchitecture, batchCapacity: Int = 64) {
        self.architecture = architecture
        self.layout = architecture.layout
        self.widths = architecture.widths
        self.layers = widths.count - 1
        self.relu = architecture.activation == .relu
        self.maximumWidth = widths.dropFirst().max()!
        var w: [Int] = [], b: [Int] = []
        for l in 0..<layers {
            w.append(layout.range(of: "dense_\(l).weight")!.lowerBound)
            b.append(layout.range(of: "dense_\(l).bias")!.lowerBound)
        }
        self.weightOffsets = w
        self.biasOffsets = b
        self.batchCapacity = 0
        self.storage = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        self.delta = storage
        self.previousDelta = storage
        allocate(batchCapacity: max(1, batchCapacity))
    }

    deinit { storage.deallocate() }

    /// Makes room for batches of `rows` samples.
    public func reserve(batchCapacity rows: Int) {
        if rows > batchCapacity { allocate(batchCapacity: rows) }
    }

    private func allocate(batchCapacity rows: Int) {
        var total = 2 * rows * maximumWidth
        for l in 0..<layers { total += rows * widths[l + 1] + widths[l] * widths[l + 1] }
        storage.deallocate()
        storage = UnsafeMutablePointer<Float>.allocate(capacity: total)
        storage.initialize(repeating: 0, count: total)
        var p = storage
        outputs = []
        transposedWeights = []
        for l in 0..<layers {
            outputs.append(p)
            p += rows * widths[l + 1]
            transposedWeights.append(p)
            p += widths[l] * widths[l + 1]
        }
        delta = p
        previousDelta = p + rows * maximumWidth
        batchCapacity = rows
    }

    /// Computes the gradient of the mean cross-entropy loss of one batch into `gradient` (overwritten; same
    /// layout as `parameters`) and returns the batch's summed loss and correct count.
    ///
    /// `inputs` holds `labels.count` rows of `architecture.inputCount` features, row-major.
    /// - Precondition: buffer sizes match the layout and the batch; every label is below `classCount`.
    public func lossAndGradient(
        parameters: UnsafeBufferPointer<Float>,
        inputs: UnsafeBufferPointer<Float>,
        labels: UnsafeBufferPointer<Int32>,
        gradient: UnsafeMutableBufferPointer<Float>
    ) -> BatchStatistics {
        let rows = labels.count
        precondition(parameters.count == layout.count && gradient.count == layout.count, "parameter or gradient buffer does not match the layout")
        precondition(inputs.count == rows * widths[0], "inputs hold \(inputs.count) values, expected \(rows) × \(widths[0])")
        guard let grad = gradient.baseAddress else { return BatchStatistics() }
        MatrixKernels.zero(grad, count: layout.count)
        guard rows > 0, let params = parameters.baseAddress, let x = inputs.baseAddress, let y = labels.baseAddress else {
            return BatchStatistics()
        }
        reserve(batchCapacity: rows)
        forward(params, x, rows)
        let stats = softmaxCrossEntropy(rows, y, gradientScale: 1 / Float(rows))
        backward(params, x, rows, grad)
        return stats
    }

    /// Summed loss and correct count over all rows, in chunks of `batchCapacity`; no gradient.
    public func evaluate(
        parameters: UnsafeBufferPointer<Float>,
        inputs: UnsafeBufferPointer<Float>,
        labels: UnsafeBufferPointer<Int32>
    ) -> BatchStatistics {
        let total = labels.count
        precondition(parameters.count == layout.count, "parameter buffer does not match the layout")
        precondition(inputs.count == total * widths[0], "inputs hold \(inputs.count) values, expected \(total) × \(widths[0])")
        guard total > 0, let params = parameters.baseAddress, let x = inputs.baseAddress, let y = labels.baseAddress else {
            return BatchStatistics()
        }
        var stats = BatchStatistics()
        var start = 0
        while start < total {
            let rows = min(batchCapacity, total - start)
            forward(params, x + start * widths[0], rows)
            stats = stats + softmaxCrossEntropy(rows, y + start, gradientScale: nil)
            start += rows
        }
        return stats
    }

    /// The logits (`[rows × classCount]`, row-major) for `inputs`.
    public func logits(parameters: UnsafeBufferPointer<Float>, inputs: UnsafeBufferPointer<Float>) -> [Float] {
        let total = inputs.count / widths[0]
        precondition(inputs.count == total * widths[0], "inputs are not a whole number of rows")
        precondition(parameters.count == layout.count, "parameter buffer does not match the layout")
        let classes = widths[layers]
        var out = [Float](repeating: 0, count: total * classes)
        guard total > 0, let params = parameters.baseAddress, let x = inputs.baseAddress else { return out }
        out.withUnsafeMutableBufferPointer { out in
            var start = 0
            while start < total {
                let rows = min(batchCapacity, total - start)
                forward(params, x + start * widths[0], rows)
                MatrixKernels.copy(outputs[layers - 1], to: out.baseAddress! + start * classes, count: rows * classes)
                start += rows
            }
        }
        return out
    }

    // MARK: Passes

    private func forward(_ params: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ rows: Int) {
        var input = x
        for l in 0..<layers {
            let fanIn = widths[l], fanOut = widths[l + 1]
            let weight = params + weightOffsets[l], bias = params + biasOffsets[l]
            let out = outputs[l], wt = transposedWeights[l]
            MatrixKernels.transpose(weight, rows: fanOut, columns: fanIn, into: wt)
            var r = 0
            while r < rows {
                MatrixKernels.copy(bias, to: out + r &* fanOut, count: fanOut)
                r &+= 1
            }
            MatrixKernels.multiplyAdd(rows: rows, columns: fanOut, depth: fanIn, a: input, aRowStride: fanIn, aDepthStride: 1, b: wt, c: out)
            if l < layers - 1 { activate(out, rows &* fanOut) }
            input = UnsafePointer(out)
        }
    }

    private func activate(_ z: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        if relu {
            while i < n {
                let v = z[i]
                z[i] = v < 0 ? 0 : v
                i &+= 1
            }
        } else {
            while i < n {
                z[i] = tanhf(z[i])
                i &+= 1
            }
        }
    }

    /// Loss and accuracy of the logits in the last output buffer; with a scale, also writes
    /// `scale · (softmax − onehot)` into `delta`, the gradient of the mean loss with respect to the logits.
    private func softmaxCrossEntropy(_ rows: Int, _ y: UnsafePointer<Int32>, gradientScale: Float?) -> BatchStatistics {
        let classes = widths[layers]
        let logits = outputs[layers - 1]
        var lossSum = 0.0
        var correct = 0
        var r = 0
        while r < rows {
            let z = logits + r &* classes
            let label = Int(y[r])
            precondition(label >= 0 && label < classes, "label \(label) is outside 0..<\(classes)")
            var top = z[0], best = 0
            var j = 1
            while j < classes {
                if z[j] > top {
                    top = z[j]
                    best = j
                }
                j &+= 1
            }
            if best == label { correct &+= 1 }
            var sum: Float = 0
            j = 0
            while j < classes {
                sum += expf(z[j] - top)
                j &+= 1
            }
            // log Σ exp(z) − z[label], with the maximum taken out so no exponential overflows.
            lossSum += Double(logf(sum) + top - z[label])
            if let scale = gradientScale {
                let d = delta + r &* classes
                let inverse = scale / sum
                j = 0
                while j < classes {
                    d[j] = expf(z[j] - top) * inverse
                    j &+= 1
                }
                d[label] -= scale
            }
            r &+= 1
        }
        return BatchStatistics(lossSum: lossSum, correct: correct, count: rows)
    }

    private func backward(_ params: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ rows: Int, _ grad: UnsafeMutablePointer<Float>) {
        var l = layers - 1
        while l >= 0 {
            let fanIn = widths[l], fanOut = widths[l + 1]
            let input = l == 0 ? x : UnsafePointer(outputs[l - 1])
            let dz = UnsafePointer(delta)
            // dW[out×in] += dZᵀ · input, with dZ read column-wise as A = dZᵀ.
            MatrixKernels.multiplyAdd(
                rows: fanOut, columns: fanIn, depth: rows,
                a: dz, aRowStride: 1, aDepthStride: fanOut,
                b: input, c: grad + weightOffsets[l])
            let db = grad + biasOffsets[l]
            var r = 0
            while r < rows {
                MatrixKernels.accumulate1(db, fanOut, 1, dz + r &* fanOut)
                r &+= 1
            }
            if l > 0 {
                // dA[rows×in] = dZ · W, then through the activation's derivative (read from its output).
                let da = previousDelta
                MatrixKernels.zero(da, count: rows &* fanIn)
                MatrixKernels.multiplyAdd(
                    rows: rows, columns: fanIn, depth: fanOut,
                    a: dz, aRowStride: fanOut, aDepthStride: 1,
                    b: params + weightOffsets[l], c: da)
                let a = outputs[l - 1]
                let n = rows &* fanIn
                var i = 0
                if relu {
                    while i < n {
                        // Both loads unconditional, so this is a select the optimiser vectorises, not a branch.
                        let d = da[i]
                        da[i] = a[i] > 0 ? d : 0
                        i &+= 1
                    }
                } else {
                    while i < n {
                        da[i] *= 1 - a[i] * a[i]
                        i &+= 1
                    }
                }
                swap(&delta, &previousDelta)
            }
            l -= 1
        }
    }
}

extension DenseNetwork {
    /// The batch statistics and the gradient of the mean loss of `data` taken as one batch.
    public func lossAndGradient(model: ModelState, data: Dataset) -> (statistics: BatchStatistics, gradient: ModelState) {
        precondition(model.layout == layout, "model layout does not match \(architecture)")
        var gradient = ModelState(zeros: layout)
        let stats = model.values.withUnsafeBufferPointer { p in
            data.features.withUnsafeBufferPointer { x in
                data.labels.withUnsafeBufferPointer { y in
                    gradient.values.withUnsafeMutableBufferPointer { g in lossAndGradient(parameters: p, inputs: x, labels: y, gradient: g) }
                }
            }
        }
        return (stats, gradient)
    }

    /// Summed loss and correct count of `model` on every row of `data`.
    public func evaluate(model: ModelState, data: Dataset) -> BatchStatistics {
        precondition(model.layout == layout, "model layout does not match \(architecture)")
        return model.values.withUnsafeBufferPointer { p in
            data.features.withUnsafeBufferPointer { x in
                data.labels.withUnsafeBufferPointer { y in evaluate(parameters: p, inputs: x, labels: y) }
            }
        }
    }
}
