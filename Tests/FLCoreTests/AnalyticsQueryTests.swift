import FLCore
import Testing

@Suite struct AnalyticsQueryTests {
    func error(_ text: String) -> AnalyticsQueryError? {
        do {
            _ = try AnalyticsQuery.parse(text, source: "q.yaml")
            return nil
        } catch let e as AnalyticsQueryError {
            return e
        } catch {
            Issue.record("not a query error: \(error)")
            return nil
        }
    }

    @Test func parsesTheDocumentedFile() throws {
        let q = try AnalyticsQuery.parse("""
            columns: [mean radius, mean texture]
            statistics: [count, mean, std, histogram, quantiles]
            by: label
            histogram:
              min: 0
              max: 30
              bins: 3
            quantiles: [0.25, 0.5, 0.75]
            timeout: 5
            """)
        #expect(q.columns == ["mean radius", "mean texture"])
        #expect(q.statistics == [.count, .mean, .std, .histogram, .quantiles])
        #expect(q.groupBy == "label")
        #expect(q.histogramEdges == [0, 10, 20, 30])
        #expect(q.binCount == 5)
        #expect(q.quantiles == [0.25, 0.5, 0.75])
        #expect(q.deadlineSeconds == 5)
    }

    @Test func inlineFlowMappingWithDefaults() throws {
        let q = try AnalyticsQuery.parse("{columns: all, histogram: {edges: [0, 1, 4]}, quantiles: [0.5]}")
        #expect(q.columns.isEmpty)
        #expect(q.statistics == [.count, .mean, .std, .histogram, .quantiles])
        #expect(q.histogramEdges == [0, 1, 4])
        #expect(q.groupBy == nil)
        #expect(q.deadlineSeconds == AnalyticsLimits.defaultDeadlineSeconds)
    }

    @Test func errorsNameTheField() {
        let cases: [(String, String)] = [
            ("{columns: [a], histogram: {min: 0, max: 1, bins: 1000000}}", "histogram.bins"),
            ("{columns: [a], histogram: {edges: [0, 2, 1]}}", "histogram.edges[2]"),
            ("{columns: [a], histogram: {min: 0, max: 1}}", "histogram.bins"),
            ("{columns: [a], histogram: {min: 0, max: 1, bins: 2, edges: [1, 2]}}", "histogram"),
            ("{columns: [a], quantiles: [0.5, 1.0]}", "quantiles[1]"),
            ("{columns: [a], quantiles: [0.5, 0.2]}", "quantiles[1]"),
            ("{columns: [a], statistics: [count, median]}", "statistics[1]"),
            ("{columns: [a], statistics: [histogram]}", "histogram"),
            ("{columns: [a, a]}", "columns[1]"),
            ("{columns: [a, label], by: label}", "columns[1]"),
            ("{columns: [a], timeout: 100000}", "timeout"),
            ("{columns: [a], bins: 3}", "bins"),
            ("{statistics: [count]}", "columns"),
            ("{columns: 3}", "columns"),
            ("[a, b]", "query"),
        ]
        for (text, field) in cases {
            #expect(error(text)?.field == field, "\(text)")
        }
    }

    @Test func errorsSayWhereInTheFile() throws {
        let e = try #require(error("columns: [a]\nhistogram:\n  min: 0\n  max: 1\n  bins: 5000\n"))
        #expect(e.field == "histogram.bins")
        #expect(e.location?.file == "q.yaml")
        #expect(e.location?.line == 5)
    }

    @Test func theDirectorRefusesLabelColumnsAsValues() {
        let q = AnalyticsQuery(columns: ["x", "target"])
        #expect(throws: AnalyticsQueryError(field: "columns[1]", "'target' is the label column: group by it (by: target) rather than summarise it")) {
            try q.check(labelColumns: ["target"])
        }
        let grouped = AnalyticsQuery(columns: ["x"], groupBy: "x2")
        #expect((try? grouped.check(labelColumns: ["label"])) == nil)
    }

    @Test func aResultMayNotHoldTooManyBins() {
        let wide = AnalyticsQuery(columns: (0..<1000).map { "c\($0)" }, statistics: [.histogram], histogramEdges: (0...500).map(Double.init))
        #expect((try? wide.check()) == nil)
        let all = AnalyticsQuery(columns: [], statistics: [.histogram], histogramEdges: (0...500).map(Double.init))
        #expect((try? all.check(featureCount: 30)) != nil)
        #expect((try? all.check(featureCount: 1000)) == nil)
    }

    @Test func statisticsAreKeptInOneOrderOnce() {
        #expect(AnalyticsQuery(columns: [], statistics: [.std, .count, .std]).statistics == [.count, .std])
    }
}
