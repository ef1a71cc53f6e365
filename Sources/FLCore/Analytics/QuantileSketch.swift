import Foundation

/// A mergeable quantile sketch: DDSketch (Masson, Rim and Lee, VLDB 2019) with a fixed relative
/// accuracy α = 1 %. A value x with |x| ≥ 10⁻⁹ falls in the bucket k = ⌈log_γ |x|⌉ of its sign, with
/// γ = (1 + α)/(1 − α); smaller magnitudes count as zero. A bucket's representative 2γᵏ/(γ + 1) is
/// within α·|x| of every value in it, so the estimate of the q-quantile — the value of rank
/// ⌊q·(n − 1)⌋ in sorted order — is within max(α·|x_q|, 10⁻⁹) of the exact one.
///
/// Buckets are counts, so merging is adding them: exact, associative and commutative. A sketch
/// merged from any split of the rows is the sketch of all of them, and the bound holds for the
/// federation's quantiles as it does for one site's. Keys are bounded by the magnitudes (10⁻⁹ to
/// Float's largest: k in −1036…4436), so an honest sketch has at most 5,473 buckets a sign,
/// whatever the number of rows.
public struct QuantileSketch: Sendable, Hashable, Codable {
    /// The relative accuracy α.
    public static let relativeAccuracy = 0.01
    /// Magnitudes below this count as zero.
    public static let minimumMagnitude = 1e-9
    static let gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy)
    static let logGamma = log(gamma)
    /// The keys an honest sketch can hold (from the magnitudes between `minimumMagnitude` and Float's largest).
    public static let keyRange: ClosedRange<Int32> = key(minimumMagnitude)...key(Double(Float.greatestFiniteMagnitude))

    /// Values counted as zero.
    public var zeroCount: Int
    /// Buckets of positive values and of the magnitudes of negative ones, keys increasing.
    public var positive: SketchBuckets
    public var negative: SketchBuckets

    public init(zeroCount: Int = 0, positive: SketchBuckets = SketchBuckets(), negative: SketchBuckets = SketchBuckets()) {
        self.zeroCount = zeroCount
        self.positive = positive
        self.negative = negative
    }

    /// The sketch of `values`.
    public init<S: Sequence>(_ values: S) where S.Element == Double {
        var zeros = 0
        var plus: [Int32: Int] = [:]
        var minus: [Int32: Int] = [:]
        for x in values {
            if abs(x) < Self.minimumMagnitude {
                zeros += 1
            } else if x > 0 {
                plus[Self.key(x), default: 0] += 1
            } else {
                minus[Self.key(-x), default: 0] += 1
            }
        }
        self.init(zeroCount: zeros, positive: SketchBuckets(plus), negative: SketchBuckets(minus))
    }

    /// The bucket of a magnitude at least `minimumMagnitude`, clamped to the keys of finite floats.
    static func key(_ magnitude: Double) -> Int32 {
        let k = (log(magnitude) / logGamma).rounded(.up)
        return Int32(min(max(k, -2_000), 5_000))
    }

    /// The value standing for bucket `key`: within α of every magnitude in it.
    static func value(ofKey key: Int32) -> Double { 2 * pow(gamma, Double(key)) / (gamma + 1) }

    /// Values counted.
    public var count: Int { zeroCount + positive.total + negative.total }

    /// Buckets in all.
    public var bucketCount: Int { positive.keys.count + negative.keys.count }

    /// Both sketches' values together.
    public func merged(with other: QuantileSketch) -> QuantileSketch {
        QuantileSketch(zeroCount: zeroCount + other.zeroCount, positive: positive.merged(with: other.positive),
                       negative: negative.merged(with: other.negative))
    }

    /// The estimate of the `q`-quantile (0 ≤ q ≤ 1), or nil for an empty sketch.
    public func quantile(_ q: Double) -> Double? {
        let n = count
        guard n > 0 else { return nil }
        let rank = Int((min(max(q, 0), 1) * Double(n - 1)).rounded(.down))
        var seen = 0
        // Negative values from the most negative (largest magnitude) up, then zero, then positive ones.
        for (key, c) in zip(negative.keys, negative.counts).reversed() {
            seen += c
            if seen > rank { return -Self.value(ofKey: key) }
        }
        seen += zeroCount
        if seen > rank { return 0 }
        for (key, c) in zip(positive.keys, positive.counts) {
            seen += c
            if seen > rank { return Self.value(ofKey: key) }
        }
        return positive.keys.last.map { Self.value(ofKey: $0) } ?? 0
    }

    /// What is wrong with a sketch received from elsewhere, or nil: counts must be positive, keys
    /// increasing and among those an honest sketch can have, and the total `expectedCount`.
    public func problem(expectedCount: Int) -> String? {
        guard zeroCount >= 0 else { return "a negative zero count (\(zeroCount))" }
        for (name, side) in [("positive", positive), ("negative", negative)] {
            if let problem = side.problem(keys: Self.keyRange) { return "\(name) buckets: \(problem)" }
        }
        let total = zeroCount.addingReportingOverflow(positive.total).partialValue
        guard total.addingReportingOverflow(negative.total).partialValue == expectedCount else {
            return "its buckets count \(count) values, not the \(expectedCount) rows reported"
        }
        return nil
    }
}

/// One sign's buckets of a `QuantileSketch`: keys increasing, each with its count.
public struct SketchBuckets: Sendable, Hashable, Codable {
    public var keys: [Int32]
    public var counts: [Int]

    public init(keys: [Int32] = [], counts: [Int] = []) {
        self.keys = keys
        self.counts = counts
    }

    init(_ buckets: [Int32: Int]) {
        let sorted = buckets.sorted { $0.key < $1.key }
        self.init(keys: sorted.map(\.key), counts: sorted.map(\.value))
    }

    var total: Int { counts.reduce(0) { $0.addingReportingOverflow($1).partialValue } }

    func merged(with other: SketchBuckets) -> SketchBuckets {
        var keys: [Int32] = []
        var counts: [Int] = []
        keys.reserveCapacity(self.keys.count + other.keys.count)
        var (i, j) = (0, 0)
        while i < self.keys.count || j < other.keys.count {
            if j == other.keys.count || (i < self.keys.count && self.keys[i] < other.keys[j]) {
                keys.append(self.keys[i]); counts.append(self.counts[i]); i += 1
            } else if i == self.keys.count || other.keys[j] < self.keys[i] {
                keys.append(other.keys[j]); counts.append(other.counts[j]); j += 1
            } else {
                keys.append(self.keys[i]); counts.append(self.counts[i] + other.counts[j]); i += 1; j += 1
            }
        }
        return SketchBuckets(keys: keys, counts: counts)
    }

    func problem(keys range: ClosedRange<Int32>) -> String? {
        guard keys.count == counts.count else { return "\(keys.count) keys for \(counts.count) counts" }
        guard keys.count <= range.count else { return "\(keys.count) buckets; an honest sketch has at most \(range.count)" }
        for (i, key) in keys.enumerated() {
            guard range.contains(key) else { return "key \(key) is outside \(range.lowerBound)…\(range.upperBound)" }
            guard i == 0 || key > keys[i - 1] else { return "key \(key) does not increase on \(keys[i - 1])" }
            guard counts[i] > 0 else { return "bucket \(key) counts \(counts[i])" }
        }
        return nil
    }
}
