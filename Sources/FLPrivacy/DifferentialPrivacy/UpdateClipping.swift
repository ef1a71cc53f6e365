import FLCore

/// L2 clipping of a model update, the one kernel every clipping in SwiftFL goes through: the
/// aggregation's `max_update_norm`, central differential privacy (each site's change about the
/// round's model), and a site clipping its own change before it adds its share of the noise.
///
/// Clipping bounds the sensitivity of the sum: whatever one site's data, its contribution moves the
/// sum by at most `norm` in L2, which is what the Gaussian noise is calibrated to (σ·norm).
public enum UpdateClipping {
    /// Scales `delta` in place to L2 norm ≤ `norm`; returns its norm before.
    ///
    /// A delta already within the norm is left bit for bit as it was. The norm is summed in Double
    /// (`FloatKernels.squaredNorm`); a delta with a non-finite value has a non-finite norm and is
    /// scaled by 0 or NaN: callers check finiteness before (the aggregator does for every update).
    @discardableResult
    public static func clip(_ delta: UnsafeMutableBufferPointer<Float>, toNorm norm: Double) -> Double {
        clip(delta, about: nil, toNorm: norm)
    }

    /// Clips `values − reference` to L2 norm ≤ `norm` in place, leaving `values` as
    /// `reference + (values − reference)·min(1, norm / ‖values − reference‖)`; returns that distance
    /// before. `reference` nil is the origin (`clip(_:toNorm:)`). Values within the norm are not
    /// touched, so nothing rounds them.
    @discardableResult
    public static func clip(_ values: UnsafeMutableBufferPointer<Float>, about reference: UnsafeBufferPointer<Float>?,
                            toNorm norm: Double) -> Double {
        precondition(norm > 0, "UpdateClipping: the norm must be positive, found \(norm)")
        let before: Double
        if let reference {
            precondition(reference.count == values.count, "UpdateClipping: \(values.count) values about a reference of \(reference.count)")
            before = FloatKernels.squaredDistance(UnsafeBufferPointer(values), reference).squareRoot()
        } else {
            before = FloatKernels.squaredNorm(UnsafeBufferPointer(values)).squareRoot()
        }
        guard before > norm, let v = values.baseAddress else { return before }
        let scale = Float(norm / before)
        if let r = reference?.baseAddress {
            for i in 0..<values.count { v[i] = r[i] + (v[i] - r[i]) * scale }
        } else {
            for i in 0..<values.count { v[i] *= scale }
        }
        return before
    }
}
