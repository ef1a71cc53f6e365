import FLCore

/// Federated averaging (McMahan et al., 2017): the next global model is the mean of the updates,
/// each weighted by the number of samples it was trained on.
///
/// Memory: one running-sum buffer the size of the model, exchanged with the buffer of each update it
/// takes in (so the aggregator's pool of buffers keeps its size).
public final class FedAvg: AggregationFunction {

    private var sum: [Float]
    public private(set) var totalWeight: Double = 0

    public init(layout: ModelLayout) {
        sum = [Float](repeating: 0, count: layout.count)
    }

    public func begin(global: ModelState) {
        precondition(global.values.count == sum.count, "FedAvg: model size changed")
        sum.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        totalWeight = 0
    }

    public func add(_ update: inout [Float], weight: Double) -> FoldResult {
        precondition(update.count == sum.count, "FedAvg: an update of \(update.count) values for a model of \(sum.count)")
        let finite = update.withUnsafeMutableBufferPointer { u in
            sum.withUnsafeBufferPointer { FloatKernels.scaleAndAdd(Float(weight), u, $0) }
        }
        guard finite else {
            // Rare: one more pass over the (already overwritten) scratch buffer to say where.
            return .refused(firstNonFinite: update.withUnsafeBufferPointer { FloatKernels.firstNonFinite($0) } ?? 0)
        }
        // The new sum is in the update's buffer: take it, and hand back the old sum's for the next update.
        swap(&sum, &update)
        totalWeight += weight
        return .added
    }

    public func finish(into global: inout ModelState) {
        precondition(totalWeight > 0, "FedAvg.finish with no updates")
        withSum { s, scale in
            global.values.withUnsafeMutableBufferPointer { g in
                for i in 0..<g.count { g[i] = s[i] * scale }
            }
        }
    }

    /// Gives functions built on FedAvg the running sum and the factor that turns it into the mean,
    /// so they can use the mean without a buffer of their own.
    func withSum<R>(_ body: (UnsafeBufferPointer<Float>, _ scale: Float) -> R) -> R {
        let scale = Float(1 / totalWeight)
        return sum.withUnsafeBufferPointer { body($0, scale) }
    }

    public var state: [String: [Float]] { [:] }
    public func restore(_ state: [String: [Float]]) throws {}
}
