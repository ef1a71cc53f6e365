/// How big a federated analytics query, and a site's answer to it, may be. A query is data from a
/// user and an answer data from a site: both are checked against these before anything is sized
/// from them, so neither can make a peer allocate without bound.
public enum AnalyticsLimits {
    /// Columns one query may name.
    public static let maximumColumns = 1024
    /// Longest column name, in UTF-8 bytes.
    public static let maximumColumnNameBytes = 256
    /// Histogram bins between the edges (two more count what falls outside them).
    public static let maximumBins = 1000
    /// Quantile levels one query may ask for.
    public static let maximumQuantiles = 100
    /// Label groups one column may have with `by` (classes of a classification task).
    public static let maximumGroups = 1000
    /// Histogram bins over all columns of one cell group (columns × bins, the outer bins included): a
    /// result holds two numbers a bin, so this keeps a result of one group at 4 MiB and a combined
    /// result inside a control message.
    public static let maximumBinsPerGroup = 262_144
    /// Cells (column × group) one answer may hold.
    public static let maximumCells = 65_536
    /// The longest a query may wait for its sites, and the default wait.
    public static let maximumDeadlineSeconds = 600.0
    public static let defaultDeadlineSeconds = 10.0
}
