extension ModelState {
    /// Where the first NaN or infinity is, if any: the tensor, the element within it and the value.
    /// One vectorized pass when the model is finite (the usual case); tensors are searched only after.
    public var firstNonFinite: (tensor: String, element: Int, value: Float)? {
        values.withUnsafeBufferPointer { all in
            guard !FloatKernels.allFinite(all) else { return nil }
            for (i, spec) in layout.tensors.enumerated() {
                let range = layout.range(at: i)
                if let bad = FloatKernels.firstNonFinite(UnsafeBufferPointer(rebasing: all[range])) {
                    return (spec.name, bad, all[range.lowerBound + bad])
                }
            }
            return nil
        }
    }
}
