import Testing
import FLCore
import FLPrivacy

@Suite struct UpdateClippingTests {
    @Test func scalesDownToTheNormAndReportsTheNormBefore() {
        var delta: [Float] = [3, 4]
        let before = delta.withUnsafeMutableBufferPointer { UpdateClipping.clip($0, toNorm: 1) }
        #expect(before == 5)
        #expect(delta == [0.6, 0.8])
    }

    @Test func aDeltaWithinTheNormIsUntouched() {
        let original: [Float] = [0.1, -0.2, 0.3]
        var delta = original
        let before = delta.withUnsafeMutableBufferPointer { UpdateClipping.clip($0, toNorm: 1) }
        let expected = original.reduce(0.0) { $0 + Double($1 * $1) }.squareRoot()
        #expect(abs(before - expected) < 1e-6 * expected)  // squares summed in float32 within a block
        #expect(delta == original)
    }

    /// A million values (many blocks, and a tail past the 16 lanes) come out at the norm, to float32's rounding.
    @Test func theNormAfterClippingIsTheNorm() {
        var generator = SplitMix64(state: 7)
        var delta = (0..<1_000_003).map { _ in Float(Int64(bitPattern: generator.next() % 2001) - 1000) / 100 }
        let expected = delta.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        let before = delta.withUnsafeMutableBufferPointer { UpdateClipping.clip($0, toNorm: 2.5) }
        #expect(abs(before - expected) <= 1e-6 * expected)  // float32 within blocks of 2048
        let after = delta.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(abs(after - 2.5) <= 1e-6 * 2.5, "\(after)")
    }

    /// About a reference (the round's model): the change is clipped, the reference is where it starts.
    @Test func clipsTheChangeAboutAReference() {
        var values: [Float] = [4, 5]
        let reference: [Float] = [1, 1]
        let before = reference.withUnsafeBufferPointer { r in values.withUnsafeMutableBufferPointer { UpdateClipping.clip($0, about: r, toNorm: 1) } }
        #expect(before == 5)
        #expect(abs(values[0] - 1.6) < 1e-6 && abs(values[1] - 1.8) < 1e-6, "\(values)")
    }
}
