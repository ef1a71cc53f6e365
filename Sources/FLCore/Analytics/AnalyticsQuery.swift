/// A federated analytics query: which columns of every site's shard to summarise, with which
/// statistics, over all rows or per label. Written by a data scientist (a small YAML file or an
/// inline mapping: `AnalyticsQuery.parse`), checked by the Director, run by every online Envoy on its
/// own shard (`ShardAnalytics` in FLTraining), and answered per site, which the Director combines.
///
/// The query is pure data: it names columns and numbers, never code, so a site runs it whatever
/// its archive policy (each site still withholds small cells: `analytics.min_count`).
public struct AnalyticsQuery: Sendable, Hashable, Codable {
    /// The feature columns to summarise; empty means every feature column of each site's shard.
    public var columns: [String]
    /// What to compute for each column, in `AnalyticsStatistic` order, each once.
    public var statistics: [AnalyticsStatistic]
    /// The label column to group by (one cell per label value), or nil for one cell over all rows.
    public var groupBy: String?
    /// Histogram bin edges, strictly increasing and finite: n + 1 edges make n bins
    /// `[e0, e1), [e1, e2), …, [e(n-1), en]`, plus a bin below e0 and one above en. Empty unless
    /// `statistics` holds `histogram`.
    public var histogramEdges: [Double]
    /// Quantile levels, each strictly between 0 and 1, increasing. Empty unless `statistics` holds `quantiles`.
    public var quantiles: [Double]
    /// How long the Director waits for the sites' answers; a site that has not answered by then
    /// is listed as missing.
    public var deadlineSeconds: Double

    public init(columns: [String], statistics: [AnalyticsStatistic] = [.count, .mean, .std], groupBy: String? = nil,
                histogramEdges: [Double] = [], quantiles: [Double] = [], deadlineSeconds: Double = AnalyticsLimits.defaultDeadlineSeconds) {
        self.columns = columns
        self.statistics = AnalyticsStatistic.allCases.filter(statistics.contains)
        self.groupBy = groupBy
        self.histogramEdges = histogramEdges
        self.quantiles = quantiles
        self.deadlineSeconds = deadlineSeconds
    }

    /// Whether the query asks for `statistic`.
    public func asks(_ statistic: AnalyticsStatistic) -> Bool { statistics.contains(statistic) }

    /// The histogram's bins, outer ones included: `histogramEdges.count + 1` of them, or 0 without a histogram.
    public var binCount: Int { asks(.histogram) ? histogramEdges.count + 1 : 0 }

    /// Refuses a query no site should run, naming the field: too many columns or bins, edges that do
    /// not increase, quantile levels outside (0, 1), a wait beyond the limit. `labelColumns` (the
    /// label columns the Director's Envoys registered) may not be summarised as values;
    /// `featureCount` (the federation's, when known) is how many columns `all` means.
    public func check(labelColumns: Set<String> = [], featureCount: Int? = nil) throws(AnalyticsQueryError) {
        try checkColumns(labelColumns: labelColumns)
        let columnCount = columns.isEmpty ? (featureCount ?? 1) : columns.count
        if columnCount * binCount > AnalyticsLimits.maximumBinsPerGroup {
            throw AnalyticsQueryError(field: "histogram.bins", "\(columnCount) columns × \(binCount) bins (the outer two included) is more than \(AnalyticsLimits.maximumBinsPerGroup) bins a result may hold; ask for fewer columns or bins")
        }
        guard !statistics.isEmpty else { throw AnalyticsQueryError(field: "statistics", "asks for nothing") }
        if let groupBy {
            guard !groupBy.isEmpty, groupBy.utf8.count <= AnalyticsLimits.maximumColumnNameBytes else {
                throw AnalyticsQueryError(field: "by", "is not a column name")
            }
            guard labelColumns.isEmpty || labelColumns.contains(groupBy) else {
                throw AnalyticsQueryError(field: "by", "'\(groupBy)' is not a label column (the sites' label column: \(labelColumns.sorted().joined(separator: ", ")))")
            }
        }
        try checkHistogram()
        try checkQuantiles()
        guard deadlineSeconds.isFinite, deadlineSeconds > 0, deadlineSeconds <= AnalyticsLimits.maximumDeadlineSeconds else {
            throw AnalyticsQueryError(field: "timeout", "\(deadlineSeconds) s is outside (0, \(Int(AnalyticsLimits.maximumDeadlineSeconds))] seconds")
        }
    }

    private func checkColumns(labelColumns: Set<String>) throws(AnalyticsQueryError) {
        guard columns.count <= AnalyticsLimits.maximumColumns else {
            throw AnalyticsQueryError(field: "columns", "\(columns.count) columns; a query names at most \(AnalyticsLimits.maximumColumns)")
        }
        var seen = Set<String>()
        for (i, column) in columns.enumerated() {
            guard !column.isEmpty, column.utf8.count <= AnalyticsLimits.maximumColumnNameBytes else {
                throw AnalyticsQueryError(field: "columns[\(i)]", "a column name is 1 to \(AnalyticsLimits.maximumColumnNameBytes) bytes")
            }
            guard seen.insert(column).inserted else { throw AnalyticsQueryError(field: "columns[\(i)]", "'\(column)' is named twice") }
            if labelColumns.contains(column) || column == groupBy {
                throw AnalyticsQueryError(field: "columns[\(i)]", "'\(column)' is the label column: group by it (by: \(column)) rather than summarise it")
            }
        }
    }

    private func checkHistogram() throws(AnalyticsQueryError) {
        guard asks(.histogram) else {
            guard histogramEdges.isEmpty else { throw AnalyticsQueryError(field: "histogram", "edges given but statistics does not ask for histogram") }
            return
        }
        guard histogramEdges.count >= 2 else { throw AnalyticsQueryError(field: "histogram", "needs at least 2 edges (1 bin)") }
        guard histogramEdges.count - 1 <= AnalyticsLimits.maximumBins else {
            throw AnalyticsQueryError(field: "histogram.bins", "\(histogramEdges.count - 1) bins; a query asks for at most \(AnalyticsLimits.maximumBins)")
        }
        for (i, edge) in histogramEdges.enumerated() {
            guard edge.isFinite else { throw AnalyticsQueryError(field: "histogram.edges[\(i)]", "\(edge) is not a finite number") }
            if i > 0, edge <= histogramEdges[i - 1] {
                throw AnalyticsQueryError(field: "histogram.edges[\(i)]", "\(edge) does not increase on \(histogramEdges[i - 1])")
            }
        }
    }

    private func checkQuantiles() throws(AnalyticsQueryError) {
        guard asks(.quantiles) else {
            guard quantiles.isEmpty else { throw AnalyticsQueryError(field: "quantiles", "levels given but statistics does not ask for quantiles") }
            return
        }
        guard !quantiles.isEmpty else { throw AnalyticsQueryError(field: "quantiles", "statistics asks for quantiles but no levels are given") }
        guard quantiles.count <= AnalyticsLimits.maximumQuantiles else {
            throw AnalyticsQueryError(field: "quantiles", "\(quantiles.count) levels; a query asks for at most \(AnalyticsLimits.maximumQuantiles)")
        }
        for (i, q) in quantiles.enumerated() {
            guard q.isFinite, q > 0, q < 1 else { throw AnalyticsQueryError(field: "quantiles[\(i)]", "\(q) is not strictly between 0 and 1") }
            if i > 0, q <= quantiles[i - 1] { throw AnalyticsQueryError(field: "quantiles[\(i)]", "\(q) does not increase on \(quantiles[i - 1])") }
        }
    }
}
