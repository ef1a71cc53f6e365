import FLCore

/// FedAvg followed by a server optimizer step (`ServerOptimizer`): FedAvgM (server momentum, Hsu et
/// al. 2019) and FedAdam, FedYogi and FedAdagrad (Reddi et al. 2021). The weighted mean is folded in
/// as updates arrive, exactly as FedAvg does; the step happens once per round.
///
/// Memory: the running sum, the optimizer's one or two model-sized buffers, and (for the adaptive
/// kinds) a model-sized buffer for the mean.
public final class FedOpt: AggregationFunction {
    private let average: FedAvg
    public let optimizer: ServerOptimizer
    private var mean: [Float] = []

    public init(layout: ModelLayout, optimizer: ServerOptimizer) {
        average = FedAvg(layout: layout)
        self.optimizer = optimizer
    }

    public var totalWeight: Double { average.totalWeight }
    public func begin(global: ModelState) { average.begin(global: global) }
    public func add(_ update: inout [Float], weight: Double) -> FoldResult { average.add(&update, weight: weight) }

    public func finish(into global: inout ModelState) {
        average.withSum { s, scale in
            if mean.count != s.count { mean = [Float](repeating: 0, count: s.count) }
            mean.withUnsafeMutableBufferPointer { m in
                for i in 0..<m.count { m[i] = s[i] * scale }
            }
        }
        mean.withUnsafeBufferPointer { m in
            global.values.withUnsafeMutableBufferPointer { g in optimizer.step(global: g, combined: m) }
        }
    }

    public var state: [String: [Float]] { optimizer.state }
    public func restore(_ state: [String: [Float]]) throws { try optimizer.restore(state) }
}
