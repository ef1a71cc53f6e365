/// Loops over contiguous float32 buffers used on hot paths (aggregation, validation, optimizers).
///
/// They take buffer pointers, never arrays, so callers can run them on any region of a model or a
/// received chunk without copying; the loops are written so the compiler vectorizes them.
public enum FloatKernels {
    /// `y[i] += a * x[i]`.
    @inlinable
    public static func axpy(_ a: Float, _ x: UnsafeBufferPointer<Float>, _ y: UnsafeMutableBufferPointer<Float>) {
        precondition(x.count == y.count, "axpy: length mismatch")
        guard let xp = x.baseAddress, let yp = y.baseAddress else { return }
        for i in 0..<x.count { yp[i] += a * xp[i] }
    }

    /// `y[i] *= a`.
    @inlinable
    public static func scale(_ a: Float, _ y: UnsafeMutableBufferPointer<Float>) {
        guard let yp = y.baseAddress else { return }
        for i in 0..<y.count { yp[i] *= a }
    }

    /// True when no element is NaN or infinite.
    @inlinable
    public static func allFinite(_ x: UnsafeBufferPointer<Float>) -> Bool {
        // Summing `x - x` is NaN exactly when some element is NaN or infinite, and vectorizes
        // without a branch per element.
        guard let p = x.baseAddress else { return true }
        var acc: Float = 0
        var i = 0
        let n = x.count
        while i < n {
            let end = Swift.min(i + 4096, n)
            var block: Float = 0
            for j in i..<end { block += p[j] - p[j] }
            acc += block
            if acc.isNaN { return false }
            i = end
        }
        return !acc.isNaN
    }

    /// Index of the first non-finite element, if any.
    public static func firstNonFinite(_ x: UnsafeBufferPointer<Float>) -> Int? {
        if allFinite(x) { return nil }
        return x.firstIndex { !$0.isFinite }
    }
}
