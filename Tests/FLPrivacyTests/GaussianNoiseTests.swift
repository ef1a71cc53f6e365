import Foundation
import Testing
import FLPrivacy

@Suite struct GaussianNoiseTests {
    /// 200,000 draws of N(0, 2.5²) with a fixed seed. Bounds are 5 standard errors (a correct
    /// sampler fails one of them with probability below 10⁻⁵; with the seed fixed, never):
    /// mean: SE = s/√n = 0.0056; standard deviation: relative SE ≈ 1/√(2n) = 0.0016; the share beyond
    /// 2s: p = 0.0455, SE = √(p(1−p)/n) = 0.00047; the fourth moment (kurtosis 3): SE ≈ √(96/n) = 0.022.
    @Test func drawsHaveTheMeanAndSpreadOfTheNormal() {
        let n = 200_000, s = 2.5
        var values = [Float](repeating: 0, count: n)
        var noise = GaussianNoise(seed: 42)
        values.withUnsafeMutableBufferPointer { noise.add(to: $0, standardDeviation: s) }
        let mean = values.reduce(0.0) { $0 + Double($1) } / Double(n)
        let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(n - 1)
        let fourth = values.reduce(0.0) { $0 + pow((Double($1) - mean) / s, 4) } / Double(n)
        let beyondTwo = Double(values.filter { abs(Double($0)) > 2 * s }.count) / Double(n)
        #expect(abs(mean) < 5 * s / Double(n).squareRoot(), "mean \(mean)")
        #expect(abs(variance.squareRoot() / s - 1) < 5 / (2 * Double(n)).squareRoot(), "sd \(variance.squareRoot())")
        #expect(abs(beyondTwo - 0.0455) < 5 * 0.00047, "beyond 2s: \(beyondTwo)")
        #expect(abs(fourth - 3) < 5 * 0.022, "fourth moment \(fourth)")
    }

    /// Noise is added to what the buffer holds, an odd length included; a seed repeats its noise.
    @Test func addsToTheValuesAndRepeatsWithItsSeed() {
        var a = [Float](repeating: 10, count: 5), b = a
        var first = GaussianNoise(seed: 1), second = GaussianNoise(seed: 1)
        a.withUnsafeMutableBufferPointer { first.add(to: $0, standardDeviation: 1) }
        b.withUnsafeMutableBufferPointer { second.add(to: $0, standardDeviation: 1) }
        #expect(a == b)
        #expect(a.allSatisfy { $0 != 10 && abs($0 - 10) < 10 })
        var zero = [Float](repeating: 3, count: 4)
        zero.withUnsafeMutableBufferPointer { first.add(to: $0, standardDeviation: 0) }
        #expect(zero == [3, 3, 3, 3])
    }

    /// Unseeded generators draw from RAND_bytes: two of them do not repeat each other.
    @Test func unseededGeneratorsDiffer() {
        var a = [Float](repeating: 0, count: 8), b = a
        var first = GaussianNoise(), second = GaussianNoise()
        a.withUnsafeMutableBufferPointer { first.add(to: $0, standardDeviation: 1) }
        b.withUnsafeMutableBufferPointer { second.add(to: $0, standardDeviation: 1) }
        #expect(a != b)
    }
}
