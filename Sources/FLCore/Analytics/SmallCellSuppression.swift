/// How a site withholds what would say too much about few rows (`analytics.min_count`, k below).
///
/// - A cell (a column over all rows, or over one label's rows) with fewer than k rows is withheld
///   whole: no count, mean, histogram or sketch, only the reason. The cells of a label group are
///   withheld together, so a small label leaks nothing but that it exists.
/// - In an answered cell, a histogram bin holding 1 to k − 1 rows is withheld (primary suppression):
///   a bin of 1 places a row. Because the cell's count is known, the withheld bins' total is too
///   (count minus the bins shown), so more bins are withheld (secondary suppression, the smallest
///   non-empty bins first) until the withheld bins together hold at least k rows: then no single
///   withheld bin's count can be told from the total. Empty bins are shown (0 rows says nothing
///   about any row).
///
/// This is a floor against reading single rows off one answer, not differential privacy: two
/// queries can still be differenced (all rows minus the other labels' rows). Sites that need more
/// raise `min_count`; see docs/analytics.md.
public enum SmallCellSuppression {
    /// The histogram with its small bins zeroed, and which bins were withheld (increasing).
    public static func suppress(_ bins: [Int], minimumCount k: Int) -> (bins: [Int], withheld: [Int]) {
        var withheld = Set(bins.indices.filter { bins[$0] > 0 && bins[$0] < k })
        if !withheld.isEmpty {
            var total = withheld.reduce(0) { $0 + bins[$1] }
            let others = bins.indices.filter { bins[$0] > 0 && !withheld.contains($0) }.sorted { (bins[$0], $0) < (bins[$1], $1) }
            for i in others where total < k || withheld.count < 2 {
                withheld.insert(i)
                total += bins[i]
            }
        }
        var shown = bins
        for i in withheld { shown[i] = 0 }
        return (shown, withheld.sorted())
    }
}
