/// How one dataset is divided among the sites of a simulated federation.
///
/// Every site holds the same full dataset and computes its own shard from `(method, count, seed)` and its
/// index alone: no coordination, and the same inputs always give the same rows. Shards are disjoint and
/// together cover every row exactly once. Rows inside a shard keep the dataset's order.
public struct Sharding: Sendable, Hashable, CustomStringConvertible {
    public enum Method: Sendable, Hashable {
        /// Rows dealt uniformly at random; shard sizes differ by at most one.
        case iid
        /// Label skew: each class's rows are split across shards in proportions drawn from a symmetric
        /// Dirichlet(alpha). Small alpha (0.1) gives shards dominated by a few classes; large alpha (100)
        /// approaches IID. Each shard first receives `minimumSize` rows (see `assignments`).
        case dirichlet(alpha: Double, minimumSize: Int)
    }

    public var method: Method
    /// Number of shards.
    public var count: Int
    public var seed: UInt64

    public init(method: Method, count: Int, seed: UInt64) {
        self.method = method
        self.count = count
        self.seed = seed
    }

    /// Uniform random shards of (almost) equal size.
    public static func iid(count: Int, seed: UInt64) -> Sharding { Sharding(method: .iid, count: count, seed: seed) }

    /// Label-skewed shards; every shard gets at least `minimumSize` rows.
    public static func dirichlet(count: Int, alpha: Double, seed: UInt64, minimumSize: Int = 1) -> Sharding {
        Sharding(method: .dirichlet(alpha: alpha, minimumSize: minimumSize), count: count, seed: seed)
    }

    public var description: String {
        switch method {
        case .iid: "iid(count: \(count), seed: \(seed))"
        case .dirichlet(let alpha, let minimumSize): "dirichlet(count: \(count), alpha: \(alpha), seed: \(seed), minimumSize: \(minimumSize))"
        }
    }

    /// The shard index of every row of a dataset with these labels.
    ///
    /// Dirichlet sharding guarantees non-empty shards by construction rather than by retrying: the rows
    /// are put in a random order, the first `count × minimumSize` of them are dealt round-robin (shard
    /// `i mod count`), and only the rest is split by class with Dirichlet proportions (per class, shard k
    /// gets the slice between `round(m·P(k−1))` and `round(m·P(k))` of the class's m remaining rows, with P
    /// the cumulative proportions). So the cost is bounded and the skew is diluted by at most
    /// `count × minimumSize` rows.
    /// - Throws: `ShardingError` when the parameters are invalid or there are too few rows.
    public func assignments(labels: [Int32], classCount: Int) throws -> [Int] {
        guard count >= 1 else { throw ShardingError(sharding: self, reason: "shard count must be at least 1") }
        let n = labels.count
        var shardOf = [Int](repeating: 0, count: n)
        switch method {
        case .iid:
            guard n >= count else { throw ShardingError(sharding: self, reason: "\(n) rows cannot fill \(count) shards") }
            var rng = SeededGenerator(seed: SeededGenerator.derive(seed, 0x11D))
            let order = rng.permutation(n)
            // Shard k takes positions [k·n/count, (k+1)·n/count) of the random order.
            for k in 0..<count {
                for p in (k * n / count)..<((k + 1) * n / count) { shardOf[order[p]] = k }
            }
        case .dirichlet(let alpha, let minimumSize):
            guard alpha > 0, alpha.isFinite else { throw ShardingError(sharding: self, reason: "alpha must be positive and finite, got \(alpha)") }
            guard minimumSize >= 1 else { throw ShardingError(sharding: self, reason: "minimumSize must be at least 1") }
            let reserved = count * minimumSize
            guard n >= reserved else {
                throw ShardingError(sharding: self, reason: "\(n) rows cannot give \(count) shards \(minimumSize) row(s) each")
            }
            var rng = SeededGenerator(seed: SeededGenerator.derive(seed, 0xD1))
            let order = rng.permutation(n)
            for p in 0..<reserved { shardOf[order[p]] = p % count }
            var byClass = [[Int]](repeating: [], count: classCount)
            for p in reserved..<n { byClass[Int(labels[order[p]])].append(order[p]) }
            for rows in byClass {
                let proportions = rng.dirichlet(alpha: alpha, count: count)
                let m = Double(rows.count)
                var cumulative = 0.0
                var begin = 0
                for k in 0..<count {
                    cumulative += proportions[k]
                    let end = k == count - 1 ? rows.count : min(rows.count, Int((m * cumulative).rounded()))
                    if end > begin { for r in rows[begin..<end] { shardOf[r] = k } }
                    begin = max(begin, end)
                }
            }
        }
        return shardOf
    }

    /// The rows of shard `index`, in dataset order.
    /// - Throws: `ShardingError`.
    public func rows(ofShard index: Int, labels: [Int32], classCount: Int) throws -> [Int] {
        guard index >= 0 && index < count else { throw ShardingError(sharding: self, reason: "shard index \(index) is outside 0..<\(count)") }
        let shardOf = try assignments(labels: labels, classCount: classCount)
        return shardOf.indices.filter { shardOf[$0] == index }
    }

    /// Shard `index` of `data`.
    /// - Throws: `ShardingError`.
    public func shard(_ index: Int, of data: Dataset) throws -> Dataset {
        data.subset(try rows(ofShard: index, labels: data.labels, classCount: data.classCount))
    }

    /// Every shard of `data`, in index order.
    /// - Throws: `ShardingError`.
    public func shards(of data: Dataset) throws -> [Dataset] {
        let shardOf = try assignments(labels: data.labels, classCount: data.classCount)
        var rows = [[Int]](repeating: [], count: count)
        for (r, k) in shardOf.enumerated() { rows[k].append(r) }
        return rows.map { data.subset($0) }
    }
}

/// Sharding parameters that cannot be applied to a dataset.
public struct ShardingError: Error, Sendable, CustomStringConvertible {
    public var sharding: Sharding
    public var reason: String
    public var description: String { "cannot shard with \(sharding): \(reason)" }
}
