import FLCore

/// Runs a federated analytics query on one site's rows: a summary per column (per label with
/// `by`), with the site's `analytics.min_count` applied (`SmallCellSuppression`). Pure: the caller
/// loads the shard (`CSVDataset`) and sends the answer.
public enum ShardAnalytics {
    /// The site's answer to `query` over `dataset`, whose label column is named `labelColumn`.
    /// Throws, naming the query's field, when the query does not fit this shard: an unknown
    /// column, the label column summarised as a value, `by` naming another column.
    public static func evaluate(_ query: AnalyticsQuery, on dataset: Dataset, labelColumn: String,
                                minimumCount: Int) throws(AnalyticsQueryError) -> [ColumnSummary] {
        try query.check(labelColumns: [labelColumn])
        let columns = try columnIndices(query, dataset, labelColumn: labelColumn)
        let groups: [(label: Int?, rows: [Int])]
        if query.groupBy != nil {
            var byLabel: [Int: [Int]] = [:]
            for (row, label) in dataset.labels.enumerated() { byLabel[Int(label), default: []].append(row) }
            guard byLabel.count <= AnalyticsLimits.maximumGroups else {
                throw AnalyticsQueryError(field: "by", "this site's shard has \(byLabel.count) label values; a query groups at most \(AnalyticsLimits.maximumGroups)")
            }
            groups = byLabel.keys.sorted().map { ($0, byLabel[$0]!) }
        } else {
            groups = [(nil, Array(0..<dataset.count))]
        }
        guard columns.count * groups.count <= AnalyticsLimits.maximumCells else {
            throw AnalyticsQueryError(field: "columns", "\(columns.count) columns × \(groups.count) groups is more than \(AnalyticsLimits.maximumCells) cells")
        }
        var answer: [ColumnSummary] = []
        for (name, column) in columns {
            for group in groups {
                answer.append(summary(query, dataset, column: column, name: name, label: group.label, rows: group.rows, minimumCount: minimumCount))
            }
        }
        return answer
    }

    /// The feature index of every column the query names (all of them for `columns: all`).
    private static func columnIndices(_ query: AnalyticsQuery, _ dataset: Dataset,
                                      labelColumn: String) throws(AnalyticsQueryError) -> [(String, Int)] {
        if let by = query.groupBy, by != labelColumn {
            throw AnalyticsQueryError(field: "by", "'\(by)' is not this site's label column ('\(labelColumn)'); a query groups by the label only")
        }
        guard !query.columns.isEmpty else { return Array(zip(dataset.featureNames, dataset.featureNames.indices)) }
        var index: [String: Int] = [:]
        for (i, name) in dataset.featureNames.enumerated() { index[name] = i }
        return try query.columns.enumerated().map { i, name throws(AnalyticsQueryError) in
            guard let column = index[name] else {
                let known = dataset.featureNames.prefix(6).joined(separator: ", ") + (dataset.featureNames.count > 6 ? ", …" : "")
                throw AnalyticsQueryError(field: "columns[\(i)]", "no column '\(name)' in this site's shard (its columns: \(known))")
            }
            return (name, column)
        }
    }

    private static func summary(_ query: AnalyticsQuery, _ dataset: Dataset, column: Int, name: String, label: Int?, rows: [Int],
                                minimumCount: Int) -> ColumnSummary {
        guard rows.count >= minimumCount else {
            return .withheld(name, label: label, reason: "fewer than this site's analytics.min_count (\(minimumCount)) rows")
        }
        let width = dataset.featureCount
        var moments = RunningMoments()
        var values: [Double] = []
        values.reserveCapacity(rows.count)
        for row in rows {
            let x = Double(dataset.features[row * width + column])
            moments.add(x)
            values.append(x)
        }
        var result = ColumnSummary(column: name, label: label, moments: moments)
        if query.asks(.histogram) {
            let (bins, withheld) = SmallCellSuppression.suppress(histogram(values, edges: query.histogramEdges), minimumCount: minimumCount)
            result.histogram = bins
            result.suppressedBins = withheld
        }
        if query.asks(.quantiles) { result.sketch = QuantileSketch(values) }
        return result
    }

    /// Counts per bin: index 0 below the first edge, i for [e(i-1), e(i)) (the last bin closed),
    /// edges.count + 0 above the last edge.
    static func histogram(_ values: [Double], edges: [Double]) -> [Int] {
        var bins = Array(repeating: 0, count: edges.count + 1)
        for x in values { bins[bin(of: x, edges: edges)] += 1 }
        return bins
    }

    /// The bin of `x` (see `histogram`), by binary search.
    public static func bin(of x: Double, edges: [Double]) -> Int {
        if x < edges[0] { return 0 }
        if x > edges[edges.count - 1] { return edges.count }
        if x == edges[edges.count - 1] { return edges.count - 1 }
        // The last edge e(i) with e(i) <= x: x falls in bin i + 1.
        var (low, high) = (0, edges.count - 1)
        while high - low > 1 {
            let mid = (low + high) / 2
            if edges[mid] <= x { low = mid } else { high = mid }
        }
        return low + 1
    }
}
