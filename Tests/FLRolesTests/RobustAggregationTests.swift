import Foundation
import Testing
import FLTesting
import FLCore
@testable import FLRoles

/// Each combining rule against cases small enough to work out by hand (the expected values are in
/// the comments), in memory and spilled to a file.
@Suite struct RobustAggregationTests {
    func run(_ function: String, _ updates: [([Float], Double)], global start: [Float]? = nil, budget: Int = 1 << 30,
             configure: (inout AggregationSettings) -> Void = { _ in }) throws -> (values: [Float], function: any AggregationFunction) {
        let layout = try ModelLayout([TensorSpec(name: "w", shape: [updates[0].0.count])])
        var settings = AggregationSettings(function: function, memoryBudget: budget, spillDirectory: FileManager.default.temporaryDirectory.path)
        configure(&settings)
        let aggregation = try settings.make(layout: layout)
        var global = ModelState(layout: layout, values: start ?? [Float](repeating: 0, count: layout.count))
        aggregation.begin(global: global)
        for (values, weight) in updates {
            var update = values
            #expect(aggregation.add(&update, weight: weight) == .added)
        }
        aggregation.finish(into: &global)
        return (global.values, aggregation)
    }

    static let three: [([Float], Double)] = [([1, 5, 9], 1), ([2, 6, 0], 5), ([3, 100, -1], 1)]

    @Test(arguments: [1 << 30, 0])
    func medianTakesTheMiddleValueOfEachCoordinateUnweighted(budget: Int) throws {
        // [1,2,3] → 2; [5,6,100] → 6; [9,0,-1] → 0.
        let (odd, function) = try run("median", Self.three, budget: budget)
        #expect(odd == [2, 6, 0])
        #expect((function as? RobustAggregation)?.isSpilled == (budget == 0))
        // Even: the mean of the two middle values. [1,2,3,4] → 2.5; [5,6,7,100] → 6.5; [-1,0,9,10] → 4.5.
        #expect(try run("median", Self.three + [([4, 7, 10], 1)], budget: budget).values == [2.5, 6.5, 4.5])
    }

    @Test func trimmedMeanDropsTheExtremesOfEachCoordinate() throws {
        // n = 5, beta 0.2: one value off each end. [1,2,3,4,100] → mean(2,3,4) = 3; [0,0,0,0,-50] → 0.
        let updates: [([Float], Double)] = [([1, 0], 1), ([100, 0], 1), ([3, -50], 1), ([2, 0], 9), ([4, 0], 1)]
        #expect(try run("trimmed_mean", updates) { $0.trimmedMeanBeta = 0.2 }.values == [3, 0])
        // beta 0: the plain unweighted mean. [1,100,3,2,4] → 22; [0,0,-50,0,0] → -10.
        #expect(try run("trimmed_mean", updates) { $0.trimmedMeanBeta = 0 }.values == [22, -10])
        // beta 0.49 with n = 5 trims ⌊2.45⌋ = 2 each side: the median, 3.
        #expect(try run("trimmed_mean", updates) { $0.trimmedMeanBeta = 0.49 }.values == [3, 0])
        #expect(RobustAggregation.trimmed(n: 2, beta: 0.49) == 0)
    }

    /// Points a=(0,0), b=(1,0), c=(0,2), d=(1,1), e=(10,10); f = 1, so each is scored by its
    /// n−f−2 = 2 nearest others (squared distances): a 1+2 = 3, b 1+1 = 2, c 2+4 = 6, d 1+2 = 3, e 162+164 = 326.
    static let points: [([Float], Double)] = [([0, 0], 1), ([1, 0], 1), ([0, 2], 1), ([1, 1], 2), ([10, 10], 1)]

    @Test func krumPicksTheUpdateNearestItsNeighbours() throws {
        #expect(try run("krum", Self.points) { $0.krumF = 1 }.values == [1, 0])
    }

    @Test func multiKrumAveragesTheBestScoredByTheirWeights() throws {
        // m = 3: b (2), a (3), d (3); weights 1, 1, 2 → x = (0 + 1 + 2)/4 = 0.75, y = (0 + 0 + 2)/4 = 0.5.
        #expect(try run("multi_krum", Self.points) { $0.krumF = 1; $0.multiKrumM = 3 }.values == [0.75, 0.5])
        // m defaults to n − f = 4: everything but e; weights 1,1,1,2 → x = 3/5, y = 4/5.
        #expect(try run("multi_krum", Self.points) { $0.krumF = 1 }.values == [0.6, 0.8])
    }

    @Test func clippingBoundsEachUpdatesChangeWhateverTheRule() throws {
        // From (1,1): (4,5) moves by (3,4), norm 5, clipped to 1 → (1.6, 1.8); (1.3,1.4) moves 0.5, kept.
        let updates: [([Float], Double)] = [([4, 5], 1), ([1.3, 1.4], 1)]
        let (mean, function) = try run("fedavg", updates, global: [1, 1]) { $0.maxUpdateNorm = 1 }
        #expect(abs(mean[0] - 1.45) < 1e-6 && abs(mean[1] - 1.6) < 1e-6, "\(mean)")
        #expect((function as? ClippedAggregation)?.clippedCount == 1)
        let (median, _) = try run("median", updates + [([1, 1], 1)], global: [1, 1]) { $0.maxUpdateNorm = 1 }
        #expect(abs(median[0] - 1.3) < 1e-6 && abs(median[1] - 1.4) < 1e-6, "\(median)")
    }

    @Test func theStoreSpillsPastItsBudgetAndKeepsEveryRow() throws {
        let scratch = try TemporaryDirectory(prefix: "spill")
        defer { scratch.remove() }
        // A folder the store makes itself.
        let directory = scratch.appending("spill")
        // Two rows fit the budget (4 floats × 4 bytes × 2); the fifth row needs more and moves everything to a file.
        let store = UpdateStore(count: 4, memoryBudget: 64, spillDirectory: directory)
        for i in 0..<9 {
            let row = [Float](repeating: Float(i), count: 4)
            try row.withUnsafeBufferPointer { try store.append($0, weight: Double(i)) }
        }
        #expect(store.isSpilled)
        #expect(store.rows == 9 && store.weights == (0..<9).map(Double.init))
        for i in 0..<9 { #expect(Array(store.row(i)) == [Float](repeating: Float(i), count: 4)) }
        // The file was unlinked once made: nothing is left in the folder.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
        store.reset()
        #expect(store.rows == 0)
    }

    @Test func aSpillFileThatCannotBeMadeLeavesTheUpdateOutSayingWhy() throws {
        let layout = try ModelLayout([TensorSpec(name: "w", shape: [2])])
        let aggregation = try AggregationSettings(function: "median", memoryBudget: 0, spillDirectory: "/proc/no-such-folder").make(layout: layout)
        aggregation.begin(global: ModelState(zeros: layout))
        var update: [Float] = [1, 2]
        guard case let .notKept(reason) = aggregation.add(&update, weight: 1) else {
            Issue.record("an update was kept without a spill file")
            return
        }
        #expect(reason.contains("/proc/no-such-folder"), "\(reason)")
    }
}

/// The FedOpt server optimizers: first steps worked out by hand, and a checkpoint that resumes exactly.
@Suite struct ServerOptimizerTests {
    /// From 0 towards 1 (Δ = 1), η 0.1, β₁ 0.9, β₂ 0.99, τ 0.001, v₀ = τ²: m = 0.1 for all three;
    /// adam v = 0.99·1e-6 + 0.01 = 0.01000099, yogi v = 1e-6 + 0.01 = 0.010001, adagrad v = 1.000001;
    /// step η·m/(√v + τ) = 0.0990051, 0.0990051, 0.0099900.
    @Test(arguments: [("fedadam", 0.0990051), ("fedyogi", 0.0990051), ("fedadagrad", 0.0099900)])
    func theFirstStepIsThePapersFormula(function: String, expected: Double) throws {
        let layout = try ModelLayout([TensorSpec(name: "w", shape: [1])])
        let aggregation = try AggregationSettings(function: function, serverLearningRate: 0.1).make(layout: layout)
        var global = ModelState(zeros: layout)
        aggregation.begin(global: global)
        var update: [Float] = [1]
        _ = aggregation.add(&update, weight: 3)
        aggregation.finish(into: &global)
        #expect(abs(Double(global.values[0]) - expected) < 1e-6, "\(function): \(global.values[0])")
        #expect(aggregation.state.keys.sorted() == ["\(function.dropFirst(3)).m", "\(function.dropFirst(3)).v"])
    }

    /// Yogi grows v more gently than Adam once Δ² exceeds it, and shrinks it towards Δ² when it is larger.
    @Test func yogiMovesVTowardsTheSquaredChange() {
        let yogi = ServerOptimizer(kind: .yogi, count: 1, learningRate: 0.1, beta1: 0.9, beta2: 0.5, tau: 1)
        var global: [Float] = [0]
        let combined: [Float] = [0.5]
        // v₀ = τ² = 1 > Δ² = 0.25: v ← 1 − 0.5·0.25·(+1) = 0.875.
        global.withUnsafeMutableBufferPointer { g in combined.withUnsafeBufferPointer { yogi.step(global: g, combined: $0) } }
        #expect(yogi.state["yogi.v"] == [0.875])
    }

    /// Rounds 1–3 in one aggregator, or round 1, a checkpoint, and rounds 2–3 in a new one: bit for bit the same.
    @Test(arguments: ["fedavgm", "fedadam", "fedyogi", "fedadagrad"])
    func aResumedOptimizerContinuesExactly(function: String) throws {
        let layout = try ModelLayout([TensorSpec(name: "w", shape: [3])])
        let rounds: [[Float]] = [[1, -2, 0.5], [0.3, 0.1, -4], [2, 2, 2]]
        let settings = AggregationSettings(function: function, serverLearningRate: 0.05)
        func play(_ aggregation: any AggregationFunction, _ global: inout ModelState, _ updates: ArraySlice<[Float]>) {
            for values in updates {
                aggregation.begin(global: global)
                var update = values
                _ = aggregation.add(&update, weight: 1)
                aggregation.finish(into: &global)
            }
        }
        var straight = ModelState(zeros: layout)
        play(try settings.make(layout: layout), &straight, rounds[...])
        var resumed = ModelState(zeros: layout)
        let first = try settings.make(layout: layout)
        play(first, &resumed, rounds[..<1])
        let second = try settings.make(layout: layout)
        try second.restore(first.state)
        play(second, &resumed, rounds[1...])
        #expect(straight.values.map(\.bitPattern) == resumed.values.map(\.bitPattern))
        #expect(throws: AggregationError.self) { try settings.make(layout: try ModelLayout([TensorSpec(name: "w", shape: [4])])).restore(first.state) }
    }
}
