/// A statistic a federated analytics query asks for, per column (and per label with `by`).
public enum AnalyticsStatistic: String, Sendable, Hashable, Codable, CaseIterable {
    /// Rows with a value (every row: the CSV shards have no missing values).
    case count
    /// The arithmetic mean.
    case mean
    /// The sample standard deviation (n − 1 in the denominator, as pandas and R compute it).
    case std
    /// Counts in fixed bins (the query's edges), plus a bin below the first edge and one above the last.
    case histogram
    /// Approximate quantiles from a mergeable sketch (`QuantileSketch`, relative error 1 %).
    case quantiles
}
