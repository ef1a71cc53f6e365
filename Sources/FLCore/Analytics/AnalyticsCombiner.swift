/// Combines sites' answers to one query, cell by cell: moments by Chan's merge, histograms bin by
/// bin, sketches bucket by bucket. Every operation is exact or, for the moments, exact up to float
/// rounding, so the order the answers arrive in does not matter. A value: the Director keeps one per
/// query in flight, under its lock.
public struct AnalyticsCombiner: Sendable {
    public let query: AnalyticsQuery
    private struct Key: Hashable, Comparable {
        var column: Int
        var name: String
        var label: Int
        static func < (a: Key, b: Key) -> Bool { (a.column, a.name, a.label) < (b.column, b.name, b.label) }
    }
    private struct Accumulator: Sendable {
        var moments = RunningMoments()
        var histogram: [Int]
        var binsWithheldBy: [Int]
        var sketch = QuantileSketch()
        var sites: [String] = []
        var withheld: [String] = []
    }
    private var cells: [Key: Accumulator] = [:]

    public init(query: AnalyticsQuery) { self.query = query }

    /// Checks a site's whole answer without taking any of it: each cell as `ColumnSummary.problem`
    /// does, no cell twice, no more cells than the limit. Returns what is wrong, or nil.
    public static func problem(in answer: [ColumnSummary], for query: AnalyticsQuery) -> String? {
        guard answer.count <= AnalyticsLimits.maximumCells else { return "\(answer.count) cells; an answer holds at most \(AnalyticsLimits.maximumCells)" }
        var seen = Set<String>()
        for summary in answer {
            if let problem = summary.problem(for: query) { return problem }
            guard seen.insert("\(summary.column)\u{0}\(summary.label ?? -1)").inserted else {
                return "column '\(summary.column)'\(summary.label.map { " label \($0)" } ?? "") is answered twice"
            }
        }
        return nil
    }

    /// Adds a site's answer (check it first with `problem(in:for:)`).
    public mutating func add(site: String, _ answer: [ColumnSummary]) {
        for summary in answer {
            let position = query.columns.firstIndex(of: summary.column) ?? query.columns.count
            let key = Key(column: position, name: summary.column, label: summary.label ?? Int.min)
            var cell = cells[key] ?? Accumulator(histogram: Array(repeating: 0, count: query.binCount),
                                                 binsWithheldBy: Array(repeating: 0, count: query.binCount))
            if !summary.suppressed.isEmpty {
                cell.withheld.append("\(site): \(summary.suppressed)")
            } else {
                cell.moments = cell.moments.merged(with: summary.moments)
                for i in summary.histogram.indices { cell.histogram[i] += summary.histogram[i] }
                for i in summary.suppressedBins { cell.binsWithheldBy[i] += 1 }
                if let sketch = summary.sketch { cell.sketch = cell.sketch.merged(with: sketch) }
                cell.sites.append(site)
            }
            cells[key] = cell
        }
    }

    /// The combined cells, in the query's column order (then by name for `all`), then by label.
    public var result: [AnalyticsCell] {
        cells.keys.sorted().map { key in
            let c = cells[key]!
            let answered = c.moments.count > 0
            return AnalyticsCell(column: key.name, label: key.label == Int.min ? nil : key.label, count: c.moments.count,
                                 mean: answered && query.asks(.mean) ? c.moments.mean : nil,
                                 std: query.asks(.std) ? c.moments.standardDeviation : nil,
                                 histogram: answered ? c.histogram : [], binsWithheldBy: answered ? c.binsWithheldBy : [],
                                 quantiles: answered && query.asks(.quantiles) ? query.quantiles.map { c.sketch.quantile($0) ?? .nan } : [],
                                 sites: c.sites.sorted(), withheld: c.withheld.sorted())
        }
    }
}
