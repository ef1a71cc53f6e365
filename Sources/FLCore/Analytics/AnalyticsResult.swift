/// The combined answer to a federated analytics query, as the Director keeps it (in memory and as
/// `analytics/<id>.json` in its state folder) and as `fx analytics result` shows it.
public struct AnalyticsResult: Sendable, Hashable, Codable {
    public var id: String
    public var query: AnalyticsQuery
    public var submittedBy: String
    /// Seconds since 1970.
    public var submittedAt: Double
    /// When the last site answered or the deadline passed (seconds since 1970); nil while waiting.
    public var finishedAt: Double?
    /// Every site asked, by name.
    public var sites: [AnalyticsSiteOutcome]
    /// One per column (and label, with `by`), combined over the sites that answered it.
    public var cells: [AnalyticsCell]

    public init(id: String, query: AnalyticsQuery, submittedBy: String, submittedAt: Double, finishedAt: Double? = nil,
                sites: [AnalyticsSiteOutcome] = [], cells: [AnalyticsCell] = []) {
        self.id = id
        self.query = query
        self.submittedBy = submittedBy
        self.submittedAt = submittedAt
        self.finishedAt = finishedAt
        self.sites = sites
        self.cells = cells
    }

    /// Whether every site answered or the deadline passed.
    public var isComplete: Bool { finishedAt != nil }
}

/// What one site did with a query.
public struct AnalyticsSiteOutcome: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable {
        /// Sent the query (or about to be); no answer yet.
        case asked
        /// Answered (some cells may be withheld: see `withheldCells`).
        case answered
        /// Refused the whole query (an unknown column, say): `reason` says why.
        case refused
        /// Answered with something the Director does not take (negative counts, NaN, a sketch out of
        /// bounds): `reason` says what; nothing of it counts.
        case rejected
        /// Did not answer before the deadline (offline, or disconnected meanwhile).
        case missing
    }

    public var site: String
    public var state: State
    public var reason: String
    /// Cells it withheld for having too few rows (its `analytics.min_count`).
    public var withheldCells: Int

    public init(site: String, state: State, reason: String = "", withheldCells: Int = 0) {
        self.site = site
        self.state = state
        self.reason = reason
        self.withheldCells = withheldCells
    }
}

/// One combined cell: a column over every answering site's rows (or one label's rows).
public struct AnalyticsCell: Sendable, Hashable, Codable {
    public var column: String
    public var label: Int?
    /// Rows over the sites that answered the cell.
    public var count: Int
    public var mean: Double?
    /// Sample standard deviation.
    public var std: Double?
    /// Counts per bin (below the first edge, each bin, above the last), summed over the sites;
    /// empty without a histogram.
    public var histogram: [Int]
    /// For each bin, how many sites withheld it (their rows in it are not in `histogram`).
    public var binsWithheldBy: [Int]
    /// Estimates for the query's quantile levels, in order; empty without quantiles.
    public var quantiles: [Double]
    /// Sites whose rows are in the cell.
    public var sites: [String]
    /// Sites that withheld the whole cell, with their reasons (`site: reason`).
    public var withheld: [String]

    public init(column: String, label: Int?, count: Int, mean: Double?, std: Double?, histogram: [Int] = [], binsWithheldBy: [Int] = [],
                quantiles: [Double] = [], sites: [String] = [], withheld: [String] = []) {
        self.column = column
        self.label = label
        self.count = count
        self.mean = mean
        self.std = std
        self.histogram = histogram
        self.binsWithheldBy = binsWithheldBy
        self.quantiles = quantiles
        self.sites = sites
        self.withheld = withheld
    }
}
