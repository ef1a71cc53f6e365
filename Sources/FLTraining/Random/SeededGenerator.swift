#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FLCore

/// A small seeded random number generator (xoshiro256**, seeded through SplitMix64) with the samplers
/// training needs.
///
/// Everything random in FLTraining goes through this type and never through the standard library's
/// `shuffle(using:)` or `random(in:using:)`, whose algorithms may change between Swift releases: the
/// same seed must give bit-identical models and shards on every run and on every site.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var core: Xoshiro256StarStar

    /// A generator whose whole state is expanded from `seed` with SplitMix64, as the xoshiro authors recommend.
    public init(seed: UInt64) { core = Xoshiro256StarStar(seed: seed) }

    /// A generator with an explicit xoshiro256 state, to reproduce reference streams.
    /// - Precondition: not all four words are zero (the one state xoshiro never leaves).
    public init(state: (UInt64, UInt64, UInt64, UInt64)) { core = Xoshiro256StarStar(state: state) }

    /// Combines a base seed with further values (epoch, round, site index…) into an independent seed.
    ///
    /// Each value is folded in through a SplitMix64 step, so `derive(7, 1, 2)` and `derive(7, 2, 1)` differ
    /// and nearby inputs give unrelated streams.
    public static func derive(_ seed: UInt64, _ values: UInt64...) -> UInt64 {
        var h = SplitMix64.mix(seed)
        for v in values { h = SplitMix64.mix(h ^ SplitMix64.mix(v)) }
        return h
    }

    /// The next 64 random bits (xoshiro256**).
    @inline(__always)
    public mutating func next() -> UInt64 { core.next() }

    /// A uniform double in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// A uniform double in (0, 1): safe to pass to `log` or a negative power.
    public mutating func uniformOpen() -> Double { (Double(next() >> 11) + 0.5) * 0x1.0p-53 }

    /// A uniform integer in `0..<bound` without modulo bias (Lemire's multiply-and-reject method).
    /// - Precondition: `bound > 0`.
    public mutating func integer(below bound: Int) -> Int {
        precondition(bound > 0, "integer(below:) needs a positive bound")
        let n = UInt64(bound)
        var m = next().multipliedFullWidth(by: n)
        if m.low < n {
            let threshold = (0 &- n) % n
            while m.low < threshold { m = next().multipliedFullWidth(by: n) }
        }
        return Int(m.high)
    }

    /// A standard normal sample (Marsaglia's polar method; the second value of each pair is dropped so the
    /// generator carries no hidden cache).
    public mutating func normal() -> Double {
        while true {
            let u = 2 * uniform() - 1, v = 2 * uniform() - 1
            let s = u * u + v * v
            if s > 0 && s < 1 { return u * (-2 * log(s) / s).squareRoot() }
        }
    }

    /// A Gamma(shape, 1) sample (Marsaglia and Tsang, 2000).
    /// - Precondition: `shape > 0`.
    public mutating func gamma(shape: Double) -> Double {
        precondition(shape > 0, "gamma(shape:) needs a positive shape")
        if shape < 1 { return exp(logGamma(shape: shape)) }
        return marsagliaTsang(shape)
    }

    /// The logarithm of a Gamma(shape, 1) sample. For shapes far below 1 the sample itself underflows to
    /// zero, its logarithm does not: Gamma(a) = Gamma(a + 1) · U^(1/a).
    public mutating func logGamma(shape: Double) -> Double {
        precondition(shape > 0, "logGamma(shape:) needs a positive shape")
        if shape >= 1 { return log(marsagliaTsang(shape)) }
        let g = marsagliaTsang(shape + 1)
        return log(g) + log(uniformOpen()) / shape
    }

    private mutating func marsagliaTsang(_ shape: Double) -> Double {
        let d = shape - 1.0 / 3.0
        let c = 1 / (9 * d).squareRoot()
        while true {
            let x = normal()
            var v = 1 + c * x
            if v <= 0 { continue }
            v = v * v * v
            let u = uniformOpen()
            let x2 = x * x
            if u < 1 - 0.0331 * x2 * x2 { return d * v }
            if log(u) < 0.5 * x2 + d * (1 - v + log(v)) { return d * v }
        }
    }

    /// Proportions drawn from a symmetric Dirichlet(alpha, …, alpha) over `count` parts; they sum to 1.
    ///
    /// Computed from log-Gamma samples so that very small `alpha` (strong skew) does not collapse to 0/0.
    public mutating func dirichlet(alpha: Double, count: Int) -> [Double] {
        precondition(count > 0, "dirichlet needs at least one part")
        var logs = [Double](repeating: 0, count: count)
        for i in 0..<count { logs[i] = logGamma(shape: alpha) }
        let top = logs.max()!
        var total = 0.0
        for i in 0..<count {
            logs[i] = exp(logs[i] - top)
            total += logs[i]
        }
        for i in 0..<count { logs[i] /= total }
        return logs
    }

    /// Shuffles `elements` in place (Fisher–Yates, from the last position down).
    public mutating func shuffle<T>(_ elements: inout [T]) {
        var i = elements.count - 1
        while i > 0 {
            let j = integer(below: i + 1)
            if i != j { elements.swapAt(i, j) }
            i -= 1
        }
    }

    /// `0..<count` in a random order.
    public mutating func permutation(_ count: Int) -> [Int] {
        var p = Array(0..<count)
        shuffle(&p)
        return p
    }
}
