/// One round's aggregate, as the Director recorded it from the aggregator's events.
public struct RoundInfo: Sendable, Hashable, Codable {
    public var round: Int
    public var finalValidation: Bool
    public var attempt: Int
    /// Sample-weighted aggregates, keyed `task/metric`.
    public var metrics: [String: Double]
    public var reported: [String]
    public var missing: [String]
    public var duration: Double
    public var best: Bool
    /// Whether it measured the best model once more, after the final validation.
    public var bestValidation: Bool
    /// Each site's own metrics (`task/metric` → value), for the final and best validations.
    public var sites: [String: [String: Double]]

    public init(round: Int, finalValidation: Bool, attempt: Int, metrics: [String: Double], reported: [String], missing: [String],
                duration: Double, best: Bool, bestValidation: Bool = false, sites: [String: [String: Double]] = [:]) {
        self.round = round
        self.finalValidation = finalValidation
        self.attempt = attempt
        self.metrics = metrics
        self.reported = reported
        self.missing = missing
        self.duration = duration
        self.best = best
        self.bestValidation = bestValidation
        self.sites = sites
    }

    private enum CodingKeys: String, CodingKey {
        case round, finalValidation, attempt, metrics, reported, missing, duration, best, bestValidation, sites
    }

    /// Reads what `encode` wrote; state written before the per-site figures existed reads as none.
    /// (`contains` rather than `decodeIfPresent`: on the wire these fields have no optional's tag.)
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(round: try c.decode(Int.self, forKey: .round), finalValidation: try c.decode(Bool.self, forKey: .finalValidation),
                  attempt: try c.decode(Int.self, forKey: .attempt), metrics: try c.decode([String: Double].self, forKey: .metrics),
                  reported: try c.decode([String].self, forKey: .reported), missing: try c.decode([String].self, forKey: .missing),
                  duration: try c.decode(Double.self, forKey: .duration), best: try c.decode(Bool.self, forKey: .best),
                  bestValidation: c.contains(.bestValidation) ? try c.decode(Bool.self, forKey: .bestValidation) : false,
                  sites: c.contains(.sites) ? try c.decode([String: [String: Double]].self, forKey: .sites) : [:])
    }
}

extension RoundInfo: WireChecked {
    func check() throws(WireFieldError) {
        try WireFieldError.round(round, "round")
        try WireFieldError.round(attempt, "attempt")
    }
}
