/// Count, mean and the sum of squared deviations (M2) of a set of values, kept so that two sets'
/// moments merge exactly (Chan, Golub and LeVeque, 1979): the federation's mean and variance come
/// out as if computed over all rows at once, up to float rounding, however the rows are split.
public struct RunningMoments: Sendable, Hashable, Codable {
    public var count: Int
    public var mean: Double
    /// Σ (x − mean)²
    public var m2: Double

    public init(count: Int = 0, mean: Double = 0, m2: Double = 0) {
        self.count = count
        self.mean = mean
        self.m2 = m2
    }

    /// Adds one value (Welford's update: no catastrophic cancellation).
    public mutating func add(_ x: Double) {
        count += 1
        let delta = x - mean
        mean += delta / Double(count)
        m2 += delta * (x - mean)
    }

    /// The moments of both sets together.
    public func merged(with other: RunningMoments) -> RunningMoments {
        if other.count == 0 { return self }
        if count == 0 { return other }
        let n = Double(count) + Double(other.count)
        let delta = other.mean - mean
        return RunningMoments(count: count + other.count, mean: mean + delta * Double(other.count) / n,
                              m2: m2 + other.m2 + delta * delta * Double(count) * Double(other.count) / n)
    }

    /// The sample variance (n − 1), or nil for fewer than 2 values.
    public var variance: Double? { count > 1 ? max(0, m2) / Double(count - 1) : nil }

    /// The sample standard deviation, or nil for fewer than 2 values.
    public var standardDeviation: Double? { variance.map { $0.squareRoot() } }
}
