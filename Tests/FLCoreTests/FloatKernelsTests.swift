import Testing
import FLCore

@Suite struct FloatKernelsTests {
    func scaleAndAdd(_ a: Float, _ x: [Float], _ y: [Float]) -> (result: [Float], finite: Bool) {
        var x = x
        let finite = x.withUnsafeMutableBufferPointer { xb in y.withUnsafeBufferPointer { FloatKernels.scaleAndAdd(a, xb, $0) } }
        return (x, finite)
    }

    func allFinite(_ x: [Float]) -> Bool { x.withUnsafeBufferPointer { FloatKernels.allFinite($0) } }

    @Test func scaleAndAddComputesAXPlusYIntoX() {
        // Exactly representable, so the expected values are exact.
        let (result, finite) = scaleAndAdd(2, [1, -0.5, 3, 0, 0.25], [10, 1, -6, 0.25, -0.5])
        #expect(result == [12, 0, 0, 0.25, 0])
        #expect(finite)
        #expect(scaleAndAdd(3, [], []).finite)
    }

    @Test func scaleAndAddRefusesASumThatOverflowsFloat32() {
        // 1e36 · 1e3 = 1e39, beyond float32's 3.4e38: finite inputs, infinite result.
        let y: [Float] = [5, -7, 0]
        let before = y.map(\.bitPattern)
        let positive = scaleAndAdd(1e3, [1e36, 1e36, 1e36], y)
        #expect(!positive.finite)
        #expect(y.map(\.bitPattern) == before)  // the sum is read, never written
        #expect(positive.result.allSatisfy { $0 == .infinity })
        let negative = scaleAndAdd(1e3, [0, 0, -1e36], y)
        #expect(!negative.finite)
        #expect(negative.result == [5, -7, -.infinity])
        // The largest finite value is still finite.
        #expect(scaleAndAdd(1, [.greatestFiniteMagnitude], [0]).finite)
        #expect(!scaleAndAdd(1, [.greatestFiniteMagnitude], [.greatestFiniteMagnitude]).finite)
    }

    @Test func scaleAndAddRefusesNonFiniteInputs() {
        #expect(!scaleAndAdd(1, [1, .nan, 1], [0, 0, 0]).finite)
        #expect(!scaleAndAdd(1, [1, 1, 1], [0, 0, .infinity]).finite)
        #expect(!scaleAndAdd(.infinity, [1], [0]).finite)
        // 0 · ∞ is NaN.
        #expect(!scaleAndAdd(0, [.infinity], [0]).finite)
    }

    @Test func allFiniteFindsEveryKindOfNonFiniteValueAnywhere() {
        var values = [Float](repeating: 1, count: 10_000)
        values[3] = -0.0
        values[4] = .leastNonzeroMagnitude  // subnormal
        values[5] = -.greatestFiniteMagnitude
        values[6] = .leastNormalMagnitude
        #expect(allFinite(values))
        #expect(allFinite([]))
        for bad: Float in [.nan, -.nan, .signalingNaN, .infinity, -.infinity] {
            for index in [0, 4095, 4096, 9_999] {
                var copy = values
                copy[index] = bad
                #expect(!allFinite(copy), "\(bad) at \(index)")
                #expect(copy.withUnsafeBufferPointer { FloatKernels.firstNonFinite($0) } == index)
            }
        }
        #expect(values.withUnsafeBufferPointer { FloatKernels.firstNonFinite($0) } == nil)
    }

    @Test func axpyAndScale() {
        var y: [Float] = [1, 2, 3]
        y.withUnsafeMutableBufferPointer { yb in [Float](arrayLiteral: 1, 1, 2).withUnsafeBufferPointer { FloatKernels.axpy(0.5, $0, yb) } }
        #expect(y == [1.5, 2.5, 4])
        y.withUnsafeMutableBufferPointer { FloatKernels.scale(2, $0) }
        #expect(y == [3, 5, 8])
    }
}
