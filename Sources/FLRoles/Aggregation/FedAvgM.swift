import FLCore

/// FedAvg with server momentum (Hsu et al., 2019): the averaged change of the round is treated as a
/// pseudo-gradient and applied with momentum, which damps the drift of non-IID rounds.
///
/// `v ← β·v + (global − mean)`, `global ← global − η·v`. Memory: the running sum plus the velocity.
public final class FedAvgM: AggregationFunction {
    public static let name = "fedavgm"

    private let average: FedAvg
    private var velocity: [Float]
    private let learningRate: Float
    private let momentum: Float

    public init(layout: ModelLayout, learningRate: Float, momentum: Float) {
        average = FedAvg(layout: layout)
        velocity = [Float](repeating: 0, count: layout.count)
        self.learningRate = learningRate
        self.momentum = momentum
    }

    public var totalWeight: Double { average.totalWeight }
    public func begin(global: ModelState) { average.begin(global: global) }
    public func add(_ update: inout [Float], weight: Double) -> FoldResult { average.add(&update, weight: weight) }

    public func finish(into global: inout ModelState) {
        let (beta, eta) = (momentum, learningRate)
        average.withSum { s, scale in
            velocity.withUnsafeMutableBufferPointer { v in
                global.values.withUnsafeMutableBufferPointer { g in
                    for i in 0..<g.count {
                        v[i] = beta * v[i] + (g[i] - s[i] * scale)
                        g[i] -= eta * v[i]
                    }
                }
            }
        }
    }

    public var state: [String: [Float]] { ["velocity": velocity] }

    public func restore(_ state: [String: [Float]]) throws {
        guard let v = state["velocity"], v.count == velocity.count else {
            throw AggregationError("FedAvgM checkpoint has no velocity of \(velocity.count) values")
        }
        velocity = v
    }
}
