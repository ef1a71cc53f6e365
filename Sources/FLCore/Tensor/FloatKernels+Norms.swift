/// Squared L2 norms and distances over whole float32 buffers, for clipping (`UpdateClipping`) and
/// Krum's distances: 16 Float lanes within blocks of 2048 values (a plain loop's one Float sum cannot
/// be vectorised), Double across blocks, so a model of millions of values, or hostile huge values,
/// neither loses the small terms nor overflows.
extension FloatKernels {
    /// Σ xᵢ², summed as above.
    public static func squaredNorm(_ x: UnsafeBufferPointer<Float>) -> Double {
        guard let p = x.baseAddress else { return 0 }
        var total = 0.0
        var start = 0
        while start < x.count {
            let width = min(blockWidth, x.count - start)
            total += Double(squaredLength(p + start, width))
            start += width
        }
        return total
    }

    /// ‖a − b‖², summed as above.
    public static func squaredDistance(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> Double {
        precondition(a.count == b.count, "squaredDistance: length mismatch")
        guard let pa = a.baseAddress, let pb = b.baseAddress else { return 0 }
        var total = 0.0
        var start = 0
        while start < a.count {
            let width = min(blockWidth, a.count - start)
            total += Double(squaredDistance(pa + start, pb + start, width))
            start += width
        }
        return total
    }

    /// The values summed in Float before the running total moves to Double.
    static let blockWidth = 2048

    /// ‖a − b‖² over `count` values (at most a block), in 16 lanes.
    public static func squaredDistance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        var lanes = SIMD16<Float>()
        var i = 0
        let rawA = UnsafeRawPointer(a), rawB = UnsafeRawPointer(b)
        while i + 16 <= count {
            let d = rawA.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) - rawB.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            lanes += d * d
            i += 16
        }
        var sum = lanes.sum()
        while i < count {
            let d = a[i] - b[i]
            sum += d * d
            i += 1
        }
        return sum
    }

    /// Σ xᵢ² over `count` values (at most a block), in 16 lanes.
    static func squaredLength(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
        var lanes = SIMD16<Float>()
        var i = 0
        let raw = UnsafeRawPointer(x)
        while i + 16 <= count {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            lanes += v * v
            i += 16
        }
        var sum = lanes.sum()
        while i < count {
            sum += x[i] * x[i]
            i += 1
        }
        return sum
    }
}
