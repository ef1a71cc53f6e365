import FLCore
import Testing

@Suite struct RunningMomentsTests {
    static let values: [Double] = (0..<500).map { i in 1e6 + Double((i * 7919) % 1000) / 7 }

    func direct(_ xs: [Double]) -> (mean: Double, std: Double) {
        let mean = xs.reduce(0, +) / Double(xs.count)
        let ss = xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        return (mean, (ss / Double(xs.count - 1)).squareRoot())
    }

    func moments(_ xs: ArraySlice<Double>) -> RunningMoments {
        var m = RunningMoments()
        for x in xs { m.add(x) }
        return m
    }

    @Test(arguments: [[500], [1, 499], [250, 250], [3, 97, 200, 100, 100], [100, 0, 400]])
    func anySplitMergesToTheWhole(_ sizes: [Int]) throws {
        let (mean, std) = direct(Self.values)
        var start = 0
        var merged = RunningMoments()
        for size in sizes {
            merged = merged.merged(with: moments(Self.values[start..<(start + size)]))
            start += size
        }
        #expect(merged.count == 500)
        #expect(abs(merged.mean - mean) <= 1e-12 * abs(mean))
        #expect(abs(try #require(merged.standardDeviation) - std) <= 1e-9 * std)
    }

    @Test func mergeOrderDoesNotMatterBeyondRounding() throws {
        let parts = [0..<120, 120..<121, 121..<400, 400..<500].map { moments(Self.values[$0]) }
        let left = parts.reduce(RunningMoments()) { $0.merged(with: $1) }
        let right = parts.reversed().reduce(RunningMoments()) { $0.merged(with: $1) }
        #expect(left.count == right.count)
        #expect(abs(left.mean - right.mean) <= 1e-12 * abs(left.mean))
        #expect(abs(left.m2 - right.m2) <= 1e-9 * left.m2)
    }

    @Test func fewerThanTwoValuesHaveNoDeviation() {
        #expect(RunningMoments().standardDeviation == nil)
        #expect(moments([4]).standardDeviation == nil)
        #expect(moments([4]).mean == 4)
    }
}
