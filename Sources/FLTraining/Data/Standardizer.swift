/// Per-feature standardisation `(x − mean) / std`.
///
/// Validation rows are transformed with the training statistics, never their own: otherwise validation
/// would see information a deployed model cannot have. A feature that is constant in the training rows
/// (std 0) is only centred (its scale is 1).
///
/// In a federation, statistics fitted by each site on its own rows differ from site to site when the
/// label mix differs, and the global model then sees differently scaled inputs at every site (measured:
/// breast cancer, 3 Dirichlet(0.5) shards, global accuracy 0.82–0.91 with per-site statistics against
/// 0.96–0.99 with shared ones). Sites can instead add up their `FeatureStatistics` and all use the
/// resulting standardizer.
public struct Standardizer: Sendable, Equatable {
    /// Mean of each feature.
    public var mean: [Float]
    /// Divisor of each feature: the population standard deviation, or 1 where that is 0.
    public var scale: [Float]

    /// Statistics from explicit values; `scale` entries that are 0 (or not finite) are replaced by 1.
    /// - Precondition: `mean.count == scale.count`.
    public init(mean: [Float], scale: [Float]) {
        precondition(mean.count == scale.count, "Standardizer: \(mean.count) means for \(scale.count) scales")
        self.mean = mean
        self.scale = scale.map { $0 > 0 && $0.isFinite ? $0 : 1 }
    }

    /// The mean and population standard deviation (as scikit-learn's `StandardScaler`) of every feature
    /// of `data`, which should be the training rows only.
    public init(fitting data: Dataset) {
        self = FeatureStatistics(data).standardizer
    }

    /// `data` with every feature standardised.
    /// - Precondition: `data.featureCount == mean.count`.
    public func transform(_ data: Dataset) -> Dataset {
        var out = data
        apply(to: &out)
        return out
    }

    /// Standardises `data` in place.
    /// - Precondition: `data.featureCount == mean.count`.
    public func apply(to data: inout Dataset) {
        let d = mean.count
        precondition(data.featureCount == d, "Standardizer fitted on \(d) features, dataset has \(data.featureCount)")
        let n = data.count
        mean.withUnsafeBufferPointer { m in
            scale.withUnsafeBufferPointer { s in
                data.features.withUnsafeMutableBufferPointer { x in
                    for r in 0..<n {
                        let row = x.baseAddress! + r * d
                        for j in 0..<d { row[j] = (row[j] - m[j]) / s[j] }
                    }
                }
            }
        }
    }
}

/// Row count, sums and sums of squares of every feature: what a standardizer is computed from, and what
/// sites can share and add up (`+`) to agree on one standardizer without sharing rows.
public struct FeatureStatistics: Sendable, Equatable {
    public var count: Int
    public var sum: [Double]
    public var sumOfSquares: [Double]

    /// Statistics of no rows.
    public init(featureCount: Int) {
        count = 0
        sum = [Double](repeating: 0, count: featureCount)
        sumOfSquares = [Double](repeating: 0, count: featureCount)
    }

    /// Statistics from explicit sums (e.g. received from a site).
    /// - Precondition: `sum.count == sumOfSquares.count`, `count >= 0`.
    public init(count: Int, sum: [Double], sumOfSquares: [Double]) {
        precondition(sum.count == sumOfSquares.count && count >= 0, "FeatureStatistics: inconsistent sums")
        self.count = count
        self.sum = sum
        self.sumOfSquares = sumOfSquares
    }

    /// The statistics of every row of `data`. Sums are in double precision: float32 inputs square exactly.
    public init(_ data: Dataset) {
        self.init(featureCount: data.featureCount)
        let d = data.featureCount, n = data.count
        count = n
        data.features.withUnsafeBufferPointer { x in
            sum.withUnsafeMutableBufferPointer { s in
                sumOfSquares.withUnsafeMutableBufferPointer { q in
                    for r in 0..<n {
                        let row = x.baseAddress! + r * d
                        for j in 0..<d {
                            let v = Double(row[j])
                            s[j] += v
                            q[j] += v * v
                        }
                    }
                }
            }
        }
    }

    /// The statistics of the rows of both.
    /// - Precondition: same feature count.
    public static func + (a: FeatureStatistics, b: FeatureStatistics) -> FeatureStatistics {
        precondition(a.sum.count == b.sum.count, "FeatureStatistics: \(a.sum.count) features added to \(b.sum.count)")
        return FeatureStatistics(
            count: a.count + b.count,
            sum: zip(a.sum, b.sum).map(+),
            sumOfSquares: zip(a.sumOfSquares, b.sumOfSquares).map(+))
    }

    /// Means and population standard deviations; a feature whose variance is rounding noise gets scale 1.
    public var standardizer: Standardizer {
        let n = Double(max(count, 1))
        var mean: [Float] = [], scale: [Float] = []
        for j in 0..<sum.count {
            let m = sum[j] / n
            let variance = max(0, sumOfSquares[j] / n - m * m)
            mean.append(Float(m))
            scale.append(variance <= 1e-12 * max(1, m * m) ? 1 : Float(variance.squareRoot()))
        }
        return Standardizer(mean: mean, scale: scale)
    }
}
