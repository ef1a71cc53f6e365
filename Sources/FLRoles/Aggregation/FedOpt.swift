import FLCore

/// FedAvg followed by a server optimizer step (`ServerOptimizer`): FedAvgM (server momentum, Hsu et
/// al. 2019) and FedAdam, FedYogi and FedAdagrad (Reddi et al. 2021). The weighted mean is folded in
/// as updates arrive, exactly as FedAvg does; the step happens once per round.
///
/// Memory: the running sum and the optimizer's one or two model-sized buffers.
public final class FedOpt: AggregationFunction {
    private let average: FedAvg
    public let optimizer: ServerOptimizer

    public init(layout: ModelLayout, optimizer: ServerOptimizer) {
        average = FedAvg(layout: layout)
        self.optimizer = optimizer
    }

    public var totalWeight: Double { average.totalWeight }
    public func begin(global: ModelState) { average.begin(global: global) }
    public func add(_ update: inout [Float], weight: Double) -> FoldResult { average.add(&update, weight: weight) }

    public func finish(into global: inout ModelState) {
        average.withSum { s, scale in
            global.values.withUnsafeMutableBufferPointer { g in optimizer.step(global: g, combined: s, scale: scale) }
        }
    }

    public var state: [String: [Float]] { optimizer.state }
    public func restore(_ state: [String: [Float]]) throws { try optimizer.restore(state) }
}
