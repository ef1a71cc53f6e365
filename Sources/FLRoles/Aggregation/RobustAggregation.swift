import FLCore
import FLPrivacy

/// Aggregation rules that resist a few hostile or broken sites, at the price of holding every update
/// of the round (`UpdateStore`) instead of a running sum:
///
/// - **median**: each coordinate is the median of the updates' values there (Yin et al. 2018);
///   an even count takes the mean of the two middle values. Unweighted.
/// - **trimmed mean** (`beta`): each coordinate drops the ⌊beta·n⌋ largest and smallest values and
///   averages the rest (Yin et al. 2018). Unweighted.
/// - **Krum** (`f` hostile sites assumed): the update whose n−f−2 nearest others are nearest in
///   squared L2 distance (Blanchard et al. 2017). **Multi-Krum** (`m`): the sample-weighted mean of
///   the m best-scored updates.
///
/// Cost: memory n × model (in memory up to the budget, then in a spill file); time, for a model of
/// P values, median and trimmed mean O(P·n log n), Krum O(P·n²) for the pairwise distances.
public final class RobustAggregation: AggregationFunction {
    public enum Rule: Sendable, Hashable {
        case median
        case trimmedMean(beta: Double)
        case krum(f: Int)
        case multiKrum(f: Int, m: Int?)
    }

    public let rule: Rule
    private let store: UpdateStore

    public init(layout: ModelLayout, rule: Rule, memoryBudget: Int, spillDirectory: String) {
        self.rule = rule
        store = UpdateStore(count: layout.count, memoryBudget: memoryBudget, spillDirectory: spillDirectory)
    }

    /// Whether this round's updates went to a spill file (for tests and logs).
    public var isSpilled: Bool { store.isSpilled }

    public var totalWeight: Double { store.weights.reduce(0, +) }

    public func begin(global: ModelState) {
        precondition(global.values.count == store.count, "RobustAggregation: model size changed")
        store.reset()
    }

    public func add(_ update: inout [Float], weight: Double) -> FoldResult {
        // The aggregator checked every value is finite; a store that cannot grow (a full disk for the
        // spill file) leaves the update out, saying why.
        do {
            try update.withUnsafeBufferPointer { try store.append($0, weight: weight) }
            return .added
        } catch {
            return .notKept(reason: "\(error)")
        }
    }

    public func finish(into global: inout ModelState) {
        let n = store.rows
        precondition(n > 0, "RobustAggregation.finish with no updates")
        let rows = (0..<n).map { store.row($0) }
        global.values.withUnsafeMutableBufferPointer { out in
            switch rule {
            case .median:
                RobustAggregation.coordinatewise(rows, into: out) { sorted in
                    let k = sorted.count
                    return k % 2 == 1 ? sorted[k / 2] : sorted[k / 2 - 1] / 2 + sorted[k / 2] / 2
                }
            case let .trimmedMean(beta):
                let trim = RobustAggregation.trimmed(n: n, beta: beta)
                let kept = Float(n - 2 * trim)
                RobustAggregation.coordinatewise(rows, into: out) { sorted in
                    var sum: Float = 0
                    for i in trim..<(sorted.count - trim) { sum += sorted[i] / kept }
                    return sum
                }
            case let .krum(f):
                let chosen = RobustAggregation.krumScores(rows, f: f).enumerated().min { $0.element < $1.element }!.offset
                _ = out.update(fromContentsOf: rows[chosen])
            case let .multiKrum(f, m):
                let scores = RobustAggregation.krumScores(rows, f: f)
                let take = min(n, max(1, m ?? n - f))
                let chosen = scores.indices.sorted { scores[$0] < scores[$1] }.prefix(take)
                let total = chosen.reduce(0.0) { $0 + store.weights[$1] }
                out.update(repeating: 0)
                for i in chosen {
                    let scale = Float(store.weights[i] / total)
                    FloatKernels.axpy(scale, rows[i], out)
                }
            }
        }
    }

    /// How many values each side a trimmed mean of n drops: ⌊beta·n⌋, leaving at least one.
    static func trimmed(n: Int, beta: Double) -> Int {
        min(Int((beta * Double(n)).rounded(.down)), (n - 1) / 2)
    }

    /// Writes `reduce(sorted values of the rows at i)` to each `out[i]`, a block of coordinates at a
    /// time so the rows are read in order (not with a stride of the model's size).
    static func coordinatewise(_ rows: [UnsafeBufferPointer<Float>], into out: UnsafeMutableBufferPointer<Float>,
                               _ reduce: (UnsafeMutableBufferPointer<Float>) -> Float) {
        let n = rows.count, block = 4096
        let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: n * block)
        defer { scratch.deallocate() }
        var start = 0
        while start < out.count {
            let width = min(block, out.count - start)
            for (r, row) in rows.enumerated() {
                for j in 0..<width { scratch[j * n + r] = row[start + j] }
            }
            for j in 0..<width {
                let values = UnsafeMutableBufferPointer(rebasing: scratch[(j * n)..<(j * n + n)])
                insertionSort(values)
                out[start + j] = reduce(values)
            }
            start += width
        }
    }

    /// Sorts a handful of values (one per site) in place; faster than a general sort at this size.
    static func insertionSort(_ values: UnsafeMutableBufferPointer<Float>) {
        guard values.count > 1 else { return }
        for i in 1..<values.count {
            let v = values[i]
            var j = i - 1
            while j >= 0 && values[j] > v {
                values[j + 1] = values[j]
                j -= 1
            }
            values[j + 1] = v
        }
    }

    /// Each update's Krum score: the sum of its squared distances to its n−f−2 nearest others (at
    /// least one). The pairs are measured a block of coordinates at a time, so each update is read
    /// from memory once rather than once per pair; distances are summed in Double across blocks, so
    /// huge hostile values cannot overflow them.
    static func krumScores(_ rows: [UnsafeBufferPointer<Float>], f: Int) -> [Double] {
        let n = rows.count
        guard n > 1 else { return [0] }
        let count = rows[0].count, block = 2048
        var distance = [Double](repeating: 0, count: n * n)
        var start = 0
        while start < count {
            let width = min(block, count - start)
            for i in 0..<n {
                for j in (i + 1)..<n {
                    distance[i * n + j] += Double(FloatKernels.squaredDistance(rows[i].baseAddress! + start, rows[j].baseAddress! + start, width))
                }
            }
            start += width
        }
        let neighbours = max(1, n - f - 2)
        var scores: [Double] = []
        for i in 0..<n {
            var others: [Double] = []
            for j in 0..<n where j != i { others.append(distance[min(i, j) * n + max(i, j)]) }
            others.sort()
            scores.append(others.prefix(neighbours).reduce(0, +))
        }
        return scores
    }

    public var state: [String: [Float]] { [:] }
    public func restore(_ state: [String: [Float]]) throws {}
}

/// Clips each update's change to at most `maxNorm` in L2 norm before another function folds it in
/// (`max_update_norm`): `update ← global + (update − global)·min(1, maxNorm / ‖update − global‖)`.
/// It bounds what any one site can move the model, whatever the rule behind it.
public final class ClippedAggregation: AggregationFunction {
    public let inner: any AggregationFunction
    public let maxNorm: Double
    private var global: [Float] = []
    /// Updates clipped this round (for logs and tests).
    public private(set) var clippedCount = 0

    public init(_ inner: any AggregationFunction, maxNorm: Double) {
        self.inner = inner
        self.maxNorm = maxNorm
    }

    public var totalWeight: Double { inner.totalWeight }

    public func begin(global: ModelState) {
        self.global = global.values
        clippedCount = 0
        inner.begin(global: global)
    }

    public func add(_ update: inout [Float], weight: Double) -> FoldResult {
        let norm = global.withUnsafeBufferPointer { g in
            update.withUnsafeMutableBufferPointer { UpdateClipping.clip($0, about: g, toNorm: maxNorm) }
        }
        if norm > maxNorm { clippedCount += 1 }
        return inner.add(&update, weight: weight)
    }

    public func finish(into global: inout ModelState) {
        // The copy taken in `begin` is let go first, so the global model is changed in place.
        self.global = []
        inner.finish(into: &global)
    }

    public var state: [String: [Float]] { inner.state }
    public func restore(_ state: [String: [Float]]) throws { try inner.restore(state) }
}
