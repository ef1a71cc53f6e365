import Foundation
import FLCore
import Testing

@Suite struct QuantileSketchTests {
    /// Values of mixed signs and magnitudes, zeros among them (deterministic).
    static let values: [Double] = (0..<2000).map { i in
        let u = Double((i * 2654435761) % 1_000_003) / 1_000_003
        switch i % 5 {
        case 0: return 0
        case 1: return -exp(10 * u - 5)
        default: return exp(20 * u - 8)
        }
    }
    static let levels = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99]

    /// The exact quantile the sketch estimates: the value of rank ⌊q(n − 1)⌋.
    func exact(_ sorted: [Double], _ q: Double) -> Double { sorted[Int((q * Double(sorted.count - 1)).rounded(.down))] }

    func withinBound(_ estimate: Double?, _ exact: Double) -> Bool {
        guard let estimate else { return false }
        // The stated bound, with float slack in the bucket computation.
        return abs(estimate - exact) <= max(QuantileSketch.relativeAccuracy * abs(exact) * (1 + 1e-9), QuantileSketch.minimumMagnitude)
    }

    @Test func estimatesAreWithinTheRelativeBound() {
        let sketch = QuantileSketch(Self.values)
        let sorted = Self.values.sorted()
        #expect(sketch.count == Self.values.count)
        for q in Self.levels + [0, 1] { #expect(withinBound(sketch.quantile(q), exact(sorted, q)), "q = \(q)") }
    }

    @Test(arguments: [[2000], [1, 1999], [700, 600, 700], [10, 20, 30, 1940]])
    func mergingAnySplitGivesTheWholeSketch(_ sizes: [Int]) {
        var start = 0
        var parts: [QuantileSketch] = []
        for size in sizes {
            parts.append(QuantileSketch(Self.values[start..<(start + size)]))
            start += size
        }
        let whole = QuantileSketch(Self.values)
        #expect(parts.reduce(QuantileSketch()) { $0.merged(with: $1) } == whole)
        #expect(parts.reversed().reduce(QuantileSketch()) { $0.merged(with: $1) } == whole)
        let sorted = Self.values.sorted()
        let merged = parts.reduce(QuantileSketch()) { $0.merged(with: $1) }
        for q in Self.levels { #expect(withinBound(merged.quantile(q), exact(sorted, q))) }
    }

    @Test func anHonestSketchIsSmallAndPassesItsCheck() {
        let sketch = QuantileSketch(Self.values + [Double(Float.greatestFiniteMagnitude), -1e-12, 1e-9])
        #expect(sketch.problem(expectedCount: Self.values.count + 3) == nil)
        #expect(sketch.bucketCount <= 2 * QuantileSketch.keyRange.count)
    }

    @Test func forgedSketchesAreRefused() {
        let honest = QuantileSketch([1, 2, 3])
        #expect(honest.problem(expectedCount: 4) != nil)
        var negative = honest
        negative.positive.counts[0] = -1
        #expect(negative.problem(expectedCount: 1) != nil)
        var outside = honest
        outside.positive.keys[2] = QuantileSketch.keyRange.upperBound + 1
        #expect(outside.problem(expectedCount: 3) != nil)
        var unordered = honest
        unordered.positive.keys.swapAt(0, 1)
        #expect(unordered.problem(expectedCount: 3) != nil)
        var ragged = honest
        ragged.positive.counts.append(1)
        #expect(ragged.problem(expectedCount: 4) != nil)
    }
}
