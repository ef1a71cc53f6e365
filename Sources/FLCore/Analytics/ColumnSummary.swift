/// What one site says about one cell of a query: a column over all its rows, or over the rows of
/// one label. Either the cell is answered (its moments, histogram and sketch as the query asks),
/// or it is withheld, with the reason (`suppressed`) and nothing else.
public struct ColumnSummary: Sendable, Hashable, Codable {
    public var column: String
    /// The label value of the group, or nil for every row.
    public var label: Int?
    /// Why the site withheld the cell ("" when it answered).
    public var suppressed: String
    public var moments: RunningMoments
    /// Counts per bin, the outer bins included (`AnalyticsQuery.binCount`); empty without a histogram.
    /// Bins listed in `suppressedBins` hold 0 here.
    public var histogram: [Int]
    /// The bins the site withheld (see `SmallCellSuppression`), increasing.
    public var suppressedBins: [Int]
    /// For quantiles.
    public var sketch: QuantileSketch?

    public init(column: String, label: Int?, suppressed: String = "", moments: RunningMoments = RunningMoments(), histogram: [Int] = [],
                suppressedBins: [Int] = [], sketch: QuantileSketch? = nil) {
        self.column = column
        self.label = label
        self.suppressed = suppressed
        self.moments = moments
        self.histogram = histogram
        self.suppressedBins = suppressedBins
        self.sketch = sketch
    }

    /// A cell withheld for `reason`.
    public static func withheld(_ column: String, label: Int?, reason: String) -> ColumnSummary {
        ColumnSummary(column: column, label: label, suppressed: reason)
    }

    /// The most rows one site may claim for a cell (2⁴⁰): sums over any number of sites stay far from overflow.
    public static let maximumCount = 1 << 40

    /// What makes this cell an answer no honest site sends to `query`, or nil: a count out of range,
    /// a mean or M2 that is not finite (or M2 negative), a histogram of the wrong length or that does
    /// not add up, a sketch the query did not ask for or that does not count the rows.
    public func problem(for query: AnalyticsQuery) -> String? {
        let cell = "column '\(column)'\(label.map { " label \($0)" } ?? "")"
        if !query.columns.isEmpty && !query.columns.contains(column) { return "\(cell): the query did not ask about this column" }
        if (label != nil) != (query.groupBy != nil) { return "\(cell): \(label == nil ? "no label, but the query groups by one" : "a label, but the query groups by none")" }
        if !suppressed.isEmpty {
            guard moments == RunningMoments(), histogram.isEmpty, suppressedBins.isEmpty, sketch == nil else {
                return "\(cell): withheld, yet it carries values"
            }
            return suppressed.utf8.count > 1024 ? "\(cell): a reason of \(suppressed.utf8.count) bytes" : nil
        }
        let n = moments.count
        guard (1...Self.maximumCount).contains(n) else { return "\(cell): count \(n) is outside 1…\(Self.maximumCount)" }
        guard moments.mean.isFinite, moments.m2.isFinite, moments.m2 >= 0 else {
            return "\(cell): mean \(moments.mean) and M2 \(moments.m2) are not finite numbers (M2 at least 0)"
        }
        if let problem = histogramProblem(for: query, rows: n) { return "\(cell): histogram: \(problem)" }
        if query.asks(.quantiles) {
            guard let sketch else { return "\(cell): no quantile sketch" }
            if let problem = sketch.problem(expectedCount: n) { return "\(cell): sketch: \(problem)" }
        } else if sketch != nil {
            return "\(cell): a sketch the query did not ask for"
        }
        return nil
    }

    private func histogramProblem(for query: AnalyticsQuery, rows: Int) -> String? {
        guard histogram.count == query.binCount else { return "\(histogram.count) bins, not the \(query.binCount) asked for" }
        guard query.binCount > 0 else { return suppressedBins.isEmpty ? nil : "withheld bins of a histogram the query did not ask for" }
        guard histogram.allSatisfy({ (0...rows).contains($0) }) else { return "a bin count outside 0…\(rows)" }
        for (i, bin) in suppressedBins.enumerated() {
            guard (0..<histogram.count).contains(bin), i == 0 || bin > suppressedBins[i - 1], histogram[bin] == 0 else {
                return "withheld bin \(bin) is not a bin, not increasing, or not zeroed"
            }
        }
        let total = histogram.reduce(0, +)
        guard suppressedBins.isEmpty ? total == rows : total <= rows else { return "its bins count \(total) of \(rows) rows" }
        return nil
    }
}
