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

    /// log(erfc(x)), accurate where erfc(x) underflows (x beyond about 26): there the asymptotic
    /// series erfc(x) ≈ exp(−x²)/(x√π)·(1 − 1/(2x²) + 3/(4x⁴) − …), in log form.
    static func logErfc(_ x: Double) -> Double {
        let r = erfc(x)
        if r > 1e-300 { return log(r) }
        let x2 = x * x
        return -log(Double.pi) / 2 - log(x) - x2 - 0.5 / x2 + 0.625 / (x2 * x2) - 37.0 / 24.0 / (x2 * x2 * x2) + 353.0 / 64.0 / (x2 * x2 * x2 * x2)
    }
}
