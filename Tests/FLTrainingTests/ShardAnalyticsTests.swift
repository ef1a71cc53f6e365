import FLCore
import FLTraining
import Testing

@Suite struct ShardAnalyticsTests {
    /// Ways of splitting rows between sites: contiguous thirds, one tiny site, round-robin over 8,
    /// and by label (each site holds some classes only).
    static func splits(_ dataset: Dataset) -> [[[Int]]] {
        let n = dataset.count
        let rows = Array(0..<n)
        return [
            [Array(rows[0..<(n / 3)]), Array(rows[(n / 3)..<(2 * n / 3)]), Array(rows[(2 * n / 3)...])],
            [Array(rows[0..<1]), Array(rows[1...])],
            (0..<8).map { k in rows.filter { $0 % 8 == k } },
            (0..<3).map { k in rows.filter { Int(dataset.labels[$0]) % 3 == k } },
        ]
    }

    static let query = AnalyticsQuery(columns: [], statistics: AnalyticsStatistic.allCases, groupBy: "label",
                                      histogramEdges: [0, 0.05, 0.1, 1, 10, 20, 100, 1000], quantiles: [0.05, 0.25, 0.5, 0.75, 0.95])

    /// Runs the query at each site of a split and combines the answers as the Director does.
    func federated(_ query: AnalyticsQuery, _ dataset: Dataset, _ split: [[Int]], minimumCount: Int = 1) throws -> [AnalyticsCell] {
        var combiner = AnalyticsCombiner(query: query)
        for (k, rows) in split.enumerated() {
            let answer = try ShardAnalytics.evaluate(query, on: dataset.subset(rows), labelColumn: "label", minimumCount: minimumCount)
            #expect(AnalyticsCombiner.problem(in: answer, for: query) == nil)
            combiner.add(site: "site\(k)", answer)
        }
        return combiner.result
    }

    @Test(arguments: ["breast_cancer", "digits"])
    func matchesDirectComputationOverTheWholeFileHoweverSplit(_ name: String) throws {
        let dataset = name == "digits" ? ShippedData.digits : ShippedData.breastCancer
        for split in Self.splits(dataset) {
            let cells = try federated(Self.query, dataset, split)
            let labels = Set(dataset.labels.map(Int.init))
            #expect(cells.count == dataset.featureCount * labels.count)
            for cell in cells {
                let column = try #require(dataset.featureNames.firstIndex(of: cell.column))
                let values = (0..<dataset.count).filter { Int(dataset.labels[$0]) == cell.label }
                    .map { Double(dataset.features[$0 * dataset.featureCount + column]) }
                try check(cell, against: values)
            }
        }
    }

    func check(_ cell: AnalyticsCell, against values: [Double]) throws {
        let n = Double(values.count)
        let mean = values.reduce(0, +) / n
        let std = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)).squareRoot()
        #expect(cell.count == values.count)
        #expect(abs(try #require(cell.mean) - mean) <= 1e-9 * max(1, abs(mean)), "\(cell.column) \(cell.label ?? -1)")
        #expect(abs(try #require(cell.std) - std) <= 1e-9 * max(1, std), "\(cell.column) \(cell.label ?? -1)")
        let edges = Self.query.histogramEdges
        var bins = Array(repeating: 0, count: edges.count + 1)
        for x in values { bins[x < edges[0] ? 0 : x > edges.last! ? edges.count : x == edges.last! ? edges.count - 1 : edges.lastIndex { $0 <= x }! + 1] += 1 }
        #expect(cell.histogram == bins)
        let sorted = values.sorted()
        for (q, estimate) in zip(Self.query.quantiles, cell.quantiles) {
            let exact = sorted[Int((q * (n - 1)).rounded(.down))]
            #expect(abs(estimate - exact) <= max(QuantileSketch.relativeAccuracy * abs(exact) * (1 + 1e-9), QuantileSketch.minimumMagnitude),
                    "\(cell.column) q\(q): \(estimate) vs \(exact)")
        }
    }

    @Test func groupsAndBinsBelowTheMinimumAreWithheld() throws {
        // 12 rows of label 0, 3 of label 1: with min_count 5, label 1 is withheld whole, and in
        // label 0's histogram the bin of 2 is withheld with the next smallest.
        let x: [Float] = [1, 1, 1, 1, 1, 1, 1, 5, 5, 5, 9, 9] + [1, 2, 3]
        let dataset = Dataset(features: x, labels: Array(repeating: 0, count: 12) + [1, 1, 1], featureNames: ["v"], classCount: 2)
        let query = AnalyticsQuery(columns: ["v"], statistics: [.count, .histogram], groupBy: "label", histogramEdges: [0, 4, 8, 10])
        let answer = try ShardAnalytics.evaluate(query, on: dataset, labelColumn: "label", minimumCount: 5)
        #expect(answer.count == 2)
        #expect(answer[0].moments.count == 12)
        #expect(answer[0].histogram == [0, 7, 0, 0, 0])
        #expect(answer[0].suppressedBins == [2, 3])
        #expect(answer[1] == .withheld("v", label: 1, reason: "fewer than this site's analytics.min_count (5) rows"))
        #expect(AnalyticsCombiner.problem(in: answer, for: query) == nil)
    }

    @Test func queriesThatDoNotFitTheShardNameTheField() {
        let dataset = ShippedData.breastCancer
        func field(_ query: AnalyticsQuery, labelColumn: String = "label") -> String? {
            do {
                _ = try ShardAnalytics.evaluate(query, on: dataset, labelColumn: labelColumn, minimumCount: 1)
                return nil
            } catch {
                return error.field
            }
        }
        #expect(field(AnalyticsQuery(columns: [dataset.featureNames[0], "no such column"])) == "columns[1]")
        #expect(field(AnalyticsQuery(columns: ["label"])) == "columns[0]")
        #expect(field(AnalyticsQuery(columns: [dataset.featureNames[0]], groupBy: dataset.featureNames[1])) == "by")
        #expect(field(AnalyticsQuery(columns: [dataset.featureNames[0]], statistics: [.histogram], histogramEdges: [1, 1])) == "histogram.edges[1]")
        #expect(field(AnalyticsQuery(columns: [dataset.featureNames[0]])) == nil)
    }

    @Test func binsFollowTheEdges() {
        let edges = [0.0, 1, 2]
        #expect([-1, 0, 0.5, 1, 1.5, 2, 2.5].map { ShardAnalytics.bin(of: $0, edges: edges) } == [0, 1, 1, 2, 2, 2, 3])
    }
}
