import Testing
import FLCore
import FLRoles

/// The aggregation functions on their own: weighted means, and updates refused without a trace.
@Suite struct FedAvgTests {
    let layout = try! ModelLayout([TensorSpec(name: "w", shape: [4])])

    func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

    @Test func theNextModelIsTheSampleWeightedMean() {
        let fedavg = FedAvg(layout: layout)
        var global = ModelState(zeros: layout)
        fedavg.begin(global: global)
        var first: [Float] = [1, 2, -4, 0.5]
        var second: [Float] = [5, 2, 4, 0.5]
        #expect(fedavg.add(&first, weight: 10) == .added)
        #expect(fedavg.add(&second, weight: 30) == .added)
        #expect(fedavg.totalWeight == 40)
        fedavg.finish(into: &global)
        #expect(global.values == [4, 2, 2, 0.5])  // (1·10 + 5·30) / 40, …
        // The buffers handed back are model-sized (the aggregator's pool keeps its size).
        #expect(first.count == 4 && second.count == 4)
    }

    /// 1e36 weighted by 1e3 is 1e39, beyond float32: the update is refused and the sum of the
    /// others stays bit for bit what it was, so the round's model is theirs alone.
    @Test func anUpdateThatWouldOverflowTheSumIsRefusedAndTheSumIsUntouched() {
        let fedavg = FedAvg(layout: layout)
        var global = ModelState(zeros: layout)
        fedavg.begin(global: global)
        let honest: [Float] = [1.5, -2, 3e38, 0.1]
        var update = honest
        #expect(fedavg.add(&update, weight: 1) == .added)
        var hostile: [Float] = [0, 0, 1e36, 1e36]
        #expect(fedavg.add(&hostile, weight: 1e3) == .refused(firstNonFinite: 2))
        var nan: [Float] = [0, .nan, 0, 0]
        #expect(fedavg.add(&nan, weight: 1) == .refused(firstNonFinite: 1))
        #expect(fedavg.totalWeight == 1)
        fedavg.finish(into: &global)
        #expect(bits(global.values) == bits(honest))
    }

    @Test func fedAvgMRefusesTheSameWayAndAppliesMomentum() throws {
        let fedavgm = try AggregationSettings(function: "fedavgm", serverLearningRate: 1, serverMomentum: 0.5).make(layout: layout)
        var global = ModelState(layout: layout, values: [1, 1, 1, 1])
        fedavgm.begin(global: global)
        var update: [Float] = [0, 0, 0, 0]
        #expect(fedavgm.add(&update, weight: 2) == .added)
        var hostile: [Float] = [1e36, 0, 0, 0]
        #expect(fedavgm.add(&hostile, weight: 1e3) == .refused(firstNonFinite: 0))
        fedavgm.finish(into: &global)
        // v = 0.5·0 + (1 − 0) = 1; global = 1 − 1·1 = 0.
        #expect(global.values == [0, 0, 0, 0])
        #expect(fedavgm.state["velocity"] == [1, 1, 1, 1])
    }

    /// Finite updates, a finite sum, and still a model that is not finite: the aggregator checks the
    /// result of `finish` (AggregatorTests) because no check on the updates can catch this.
    @Test func fedAvgMWithAnAbsurdLearningRateMakesANonFiniteModel() throws {
        let fedavgm = try AggregationSettings(function: "fedavgm", serverLearningRate: 1e38).make(layout: layout)
        var global = ModelState(zeros: layout)
        fedavgm.begin(global: global)
        var update: [Float] = [10, 10, 10, 10]
        #expect(fedavgm.add(&update, weight: 1) == .added)
        fedavgm.finish(into: &global)
        #expect(!global.isFinite)
    }
}
