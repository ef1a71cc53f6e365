import Foundation

/// Arithmetic on numbers held as their logarithms (−∞ is zero), for the accountant's sums of terms
/// that would overflow or underflow as plain Doubles.
enum LogSpace {
    /// log(eˣ + eʸ).
    static func add(_ x: Double, _ y: Double) -> Double {
        let (a, b) = (min(x, y), max(x, y))
        if a == -.infinity { return b }
        return log1p(exp(a - b)) + b
    }

    /// log(eˣ − eʸ) for x ≥ y (the difference must not be negative).
    static func subtract(_ x: Double, _ y: Double) -> Double {
        precondition(x >= y, "LogSpace.subtract: the difference is negative")
        if y == -.infinity { return x }
        if x == y { return -.infinity }
        let d = expm1(x - y)
        return d.isInfinite ? x : log(d) + y
    }

    /// log(erfc(x)), accurate where erfc(x) underflows (x beyond about 26): there the asymptotic
    /// series erfc(x) ≈ exp(−x²)/(x√π)·(1 − 1/(2x²) + 3/(4x⁴) − …), in log form.
    static func logErfc(_ x: Double) -> Double {
        let r = erfc(x)
        if r > 1e-300 { return log(r) }
        let x2 = x * x
        return -log(Double.pi) / 2 - log(x) - x2 - 0.5 / x2 + 0.625 / (x2 * x2) - 37.0 / 24.0 / (x2 * x2 * x2) + 353.0 / 64.0 / (x2 * x2 * x2 * x2)
    }

    /// A running sum of signed terms held in log space: its magnitude's log and its sign.
    struct Signed {
        var logMagnitude: Double
        var positive: Bool

        static let zero = Signed(logMagnitude: -.infinity, positive: true)

        /// Adds ±e^term.
        mutating func add(_ term: Double, positive termPositive: Bool) {
            if termPositive == positive {
                logMagnitude = LogSpace.add(logMagnitude, term)
            } else if logMagnitude >= term {
                logMagnitude = LogSpace.subtract(logMagnitude, term)
            } else {
                logMagnitude = LogSpace.subtract(term, logMagnitude)
                positive = termPositive
            }
        }
    }
}
