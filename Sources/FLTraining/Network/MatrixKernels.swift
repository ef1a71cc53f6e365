#if canImport(Glibc)
import Glibc
#endif

/// Dense matrix products on row-major float32 buffers, shaped for the sizes small classifiers use.
///
/// Every product is written as row updates `c[0..<n] += a₀·b₀[…] + a₁·b₁[…] + a₂·b₂[…] + a₃·b₃[…]`: the
/// inner loop walks contiguous memory with no reduction, so the optimiser vectorises it without
/// reassociating float additions, and in debug builds one loop trip still does four multiply-adds.
/// Loops are `while` loops over raw pointers because unoptimised Swift pays for every range iterator
/// and bounds check. The summation order is fixed, so results are bit-identical from run to run.
package enum MatrixKernels {
    /// `C[m×n] += A · B` where element (i, p) of A is `a[i·aRowStride + p·aDepthStride]` and B is `[depth×n]`.
    ///
    /// With `aRowStride = depth, aDepthStride = 1` this is `A[m×depth] · B`; with `aRowStride = 1,
    /// aDepthStride = m` it is `Aᵀ · B` for `A[depth×m]`, which is how weight gradients are formed.
    package static func multiplyAdd(
        rows m: Int, columns n: Int, depth: Int,
        a: UnsafePointer<Float>, aRowStride: Int, aDepthStride: Int,
        b: UnsafePointer<Float>,
        c: UnsafeMutablePointer<Float>
    ) {
        let blockedDepth = depth & ~3
        var i = 0
        while i < m {
            let row = c + i &* n
            let aRow = a + i &* aRowStride
            var p = 0
            while p < blockedDepth {
                let ap = aRow + p &* aDepthStride
                accumulate4(
                    row, n,
                    ap[0], b + p &* n,
                    ap[aDepthStride], b + (p &+ 1) &* n,
                    ap[2 &* aDepthStride], b + (p &+ 2) &* n,
                    ap[3 &* aDepthStride], b + (p &+ 3) &* n)
                p &+= 4
            }
            while p < depth {
                accumulate1(row, n, aRow[p &* aDepthStride], b + p &* n)
                p &+= 1
            }
            i &+= 1
        }
    }

    @inline(__always)
    static func accumulate4(
        _ c: UnsafeMutablePointer<Float>, _ n: Int,
        _ a0: Float, _ b0: UnsafePointer<Float>, _ a1: Float, _ b1: UnsafePointer<Float>,
        _ a2: Float, _ b2: UnsafePointer<Float>, _ a3: Float, _ b3: UnsafePointer<Float>
    ) {
        var j = 0
        while j < n {
            c[j] += a0 * b0[j] + a1 * b1[j] + a2 * b2[j] + a3 * b3[j]
            j &+= 1
        }
    }

    @inline(__always)
    static func accumulate1(_ c: UnsafeMutablePointer<Float>, _ n: Int, _ a0: Float, _ b0: UnsafePointer<Float>) {
        var j = 0
        while j < n {
            c[j] += a0 * b0[j]
            j &+= 1
        }
    }

    /// `t[cols×rows] = mᵀ` for `m[rows×cols]`.
    package static func transpose(_ m: UnsafePointer<Float>, rows: Int, columns: Int, into t: UnsafeMutablePointer<Float>) {
        var r = 0
        while r < rows {
            let src = m + r &* columns
            var c = 0
            while c < columns {
                t[c &* rows &+ r] = src[c]
                c &+= 1
            }
            r &+= 1
        }
    }

    /// Copies `count` floats. `memcpy` rather than `update(from:count:)`, which unoptimised builds run as an
    /// unspecialised generic loop, one value-witness call per element.
    @inline(__always)
    package static func copy(_ source: UnsafePointer<Float>, to destination: UnsafeMutablePointer<Float>, count: Int) {
        memcpy(destination, source, count &* MemoryLayout<Float>.stride)
    }

    /// Sets `count` floats to +0.
    @inline(__always)
    package static func zero(_ destination: UnsafeMutablePointer<Float>, count: Int) {
        memset(destination, 0, count &* MemoryLayout<Float>.stride)
    }
}
