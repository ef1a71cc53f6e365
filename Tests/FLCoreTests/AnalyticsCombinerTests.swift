import FLCore
import Testing

@Suite struct AnalyticsCombinerTests {
    static let query = AnalyticsQuery(columns: ["x"], statistics: [.count, .mean, .std, .histogram, .quantiles], groupBy: "label",
                                      histogramEdges: [0, 5, 10], quantiles: [0.5])

    func summary(_ values: [Double], label: Int = 0) -> ColumnSummary {
        var m = RunningMoments()
        for v in values { m.add(v) }
        var bins = [0, 0, 0, 0]
        for v in values { bins[v < 0 ? 0 : v < 5 ? 1 : v <= 10 ? 2 : 3] += 1 }
        return ColumnSummary(column: "x", label: label, moments: m, histogram: bins, sketch: QuantileSketch(values))
    }

    @Test func combinesSitesCellByCell() throws {
        var combiner = AnalyticsCombiner(query: Self.query)
        let a = [1.0, 2, 3, 6], b = [7.0, 8, 11]
        for (site, answer) in [("a", [summary(a)]), ("b", [summary(b), .withheld("x", label: 1, reason: "few")])] {
            #expect(AnalyticsCombiner.problem(in: answer, for: Self.query) == nil)
            combiner.add(site: site, answer)
        }
        let cells = combiner.result
        #expect(cells.count == 2)
        let all = a + b
        let cell = cells[0]
        #expect(cell.label == 0 && cell.count == 7 && cell.sites == ["a", "b"])
        #expect(abs(try #require(cell.mean) - all.reduce(0, +) / 7) < 1e-12)
        #expect(cell.histogram == [0, 3, 3, 1])
        #expect(cells[1].label == 1 && cells[1].count == 0 && cells[1].withheld == ["b: few"] && cells[1].mean == nil)
    }

    @Test func maliciousAnswersAreRefused() {
        var negative = summary([1, 2, 3])
        negative.moments.count = -3
        var nan = summary([1, 2, 3])
        nan.moments.mean = .nan
        var negativeM2 = summary([1, 2, 3])
        negativeM2.moments.m2 = -1
        var wrongBins = summary([1, 2, 3])
        wrongBins.histogram = Array(repeating: 0, count: 100_000)
        var badTotal = summary([1, 2, 3])
        badTotal.histogram[1] = 2
        var negativeBin = summary([1, 2, 3])
        negativeBin.histogram = [-1, 4, 0, 0]
        var forgedSketch = summary([1, 2, 3])
        forgedSketch.sketch = QuantileSketch([1, 2, 3, 4, 5])
        var noSketch = summary([1, 2, 3])
        noSketch.sketch = nil
        var otherColumn = summary([1, 2, 3])
        otherColumn.column = "secret"
        var ungrouped = summary([1, 2, 3])
        ungrouped.label = nil
        var withheldWithValues = summary([1, 2, 3])
        withheldWithValues.suppressed = "few"
        var hugeCount = summary([1, 2, 3])
        hugeCount.moments.count = Int.max
        for bad in [negative, nan, negativeM2, wrongBins, badTotal, negativeBin, forgedSketch, noSketch, otherColumn, ungrouped,
                    withheldWithValues, hugeCount] {
            #expect(AnalyticsCombiner.problem(in: [bad], for: Self.query) != nil, "\(bad)")
        }
        #expect(AnalyticsCombiner.problem(in: [summary([1]), summary([2])], for: Self.query) != nil)
        // Without a histogram, no bins at all.
        let plain = AnalyticsQuery(columns: ["x"], groupBy: "label")
        var m = RunningMoments()
        m.add(1)
        #expect(AnalyticsCombiner.problem(in: [ColumnSummary(column: "x", label: 0, moments: m)], for: plain) == nil)
        #expect(AnalyticsCombiner.problem(in: [ColumnSummary(column: "x", label: 0, moments: m, suppressedBins: [0])], for: plain) != nil)
    }

    @Test func withheldBinsAreCountedBySite() {
        var combiner = AnalyticsCombiner(query: Self.query)
        var a = summary([1, 2, 3, 6])
        a.histogram = [0, 0, 0, 0]
        a.suppressedBins = [1, 2]
        #expect(AnalyticsCombiner.problem(in: [a], for: Self.query) == nil)
        combiner.add(site: "a", [a])
        combiner.add(site: "b", [summary([7, 8])])
        #expect(combiner.result[0].histogram == [0, 0, 2, 0])
        #expect(combiner.result[0].binsWithheldBy == [0, 1, 1, 0])
    }
}
