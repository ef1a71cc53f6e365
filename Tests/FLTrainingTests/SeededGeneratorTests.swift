import FLTraining
import Foundation
import FLCore
import Testing

@Suite struct SeededGeneratorTests {
    @Test func splitMixMatchesTheReferenceStream() {
        // Published outputs of SplitMix64 seeded with 1234567 (Rosetta Code "Pseudo-random numbers/Splitmix64").
        var mixer = SplitMix64(state: 1_234_567)
        let expected: [UInt64] = [6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423,
                                  4_593_380_528_125_082_431, 16_408_922_859_458_223_821]
        #expect((0..<5).map { _ in mixer.next() } == expected)
    }

    @Test func xoshiroMatchesTheReferenceStream() {
        // Outputs of the reference xoshiro256** C code from the state {1, 2, 3, 4}.
        var rng = SeededGenerator(state: (1, 2, 3, 4))
        let expected: [UInt64] = [11520, 0, 1_509_978_240, 1_215_971_899_390_074_240, 1_216_172_134_540_287_360, 607_988_272_756_665_600]
        #expect((0..<6).map { _ in rng.next() } == expected)
    }

    @Test func sameSeedSameStreamOtherSeedOtherStream() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42), c = SeededGenerator(seed: 43)
        let sa = (0..<100).map { _ in a.next() }, sb = (0..<100).map { _ in b.next() }, sc = (0..<100).map { _ in c.next() }
        #expect(sa == sb)
        #expect(sa != sc)
    }

    @Test func derivedSeedsDependOnEveryValueAndItsPosition() {
        let base = SeededGenerator.derive(7, 1, 2)
        #expect(base == SeededGenerator.derive(7, 1, 2))
        #expect(base != SeededGenerator.derive(7, 2, 1))
        #expect(base != SeededGenerator.derive(8, 1, 2))
        #expect(base != SeededGenerator.derive(7, 1, 3))
        #expect(SeededGenerator.derive(7) != SeededGenerator.derive(7, 0))
    }

    @Test func uniformValuesStayInRange() {
        var rng = SeededGenerator(seed: 1)
        var sum = 0.0
        for _ in 0..<20_000 {
            let u = rng.uniform(), o = rng.uniformOpen()
            #expect(u >= 0 && u < 1)
            #expect(o > 0 && o < 1)
            sum += u
        }
        #expect(abs(sum / 20_000 - 0.5) < 0.01)
    }

    @Test func boundedIntegersAreUnbiased() {
        var rng = SeededGenerator(seed: 2)
        var counts = [Int](repeating: 0, count: 7)
        let n = 70_000
        for _ in 0..<n { counts[rng.integer(below: 7)] += 1 }
        // Each bucket expects 10 000 with standard deviation ≈ 93; 5 deviations is a wide margin.
        for c in counts { #expect(abs(c - n / 7) < 470) }
        #expect(rng.integer(below: 1) == 0)
    }

    @Test func normalSamplesHaveUnitMoments() {
        var rng = SeededGenerator(seed: 3)
        let n = 50_000
        let xs = (0..<n).map { _ in rng.normal() }
        let mean = xs.reduce(0, +) / Double(n)
        let variance = xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)
        #expect(abs(mean) < 0.02)
        #expect(abs(variance - 1) < 0.03)
    }

    @Test(arguments: [0.3, 1.0, 2.5, 9.0])
    func gammaSamplesHaveTheirShapeAsMeanAndVariance(shape: Double) {
        var rng = SeededGenerator(seed: 4)
        let n = 40_000
        let xs = (0..<n).map { _ in rng.gamma(shape: shape) }
        let mean = xs.reduce(0, +) / Double(n)
        let variance = xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)
        #expect(xs.allSatisfy { $0 >= 0 && $0.isFinite })
        #expect(abs(mean - shape) < 0.05 * shape + 0.01)
        #expect(abs(variance - shape) < 0.1 * shape + 0.01)
    }

    @Test func dirichletProportionsSumToOneEvenForTinyAlpha() {
        var rng = SeededGenerator(seed: 5)
        for alpha in [0.001, 0.1, 1, 100] {
            for _ in 0..<50 {
                let p = rng.dirichlet(alpha: alpha, count: 6)
                #expect(p.allSatisfy { $0 >= 0 && $0.isFinite })
                #expect(abs(p.reduce(0, +) - 1) < 1e-12)
            }
        }
        // Small alpha concentrates the mass on one part, large alpha spreads it evenly.
        let skewed = (0..<200).map { _ in rng.dirichlet(alpha: 0.05, count: 5).max()! }.reduce(0, +) / 200
        let even = (0..<200).map { _ in rng.dirichlet(alpha: 100, count: 5).max()! }.reduce(0, +) / 200
        #expect(skewed > 0.8)
        #expect(even < 0.3)
    }

    @Test func shuffleIsADeterministicPermutation() {
        var a = SeededGenerator(seed: 6), b = SeededGenerator(seed: 6)
        let p = a.permutation(1000), q = b.permutation(1000)
        #expect(p == q)
        #expect(p.sorted() == Array(0..<1000))
        #expect(p != Array(0..<1000))
        // Every element lands in every position about equally often.
        var rng = SeededGenerator(seed: 7)
        var firstPosition = [Int](repeating: 0, count: 4)
        for _ in 0..<8000 { firstPosition[rng.permutation(4)[0]] += 1 }
        for c in firstPosition { #expect(abs(c - 2000) < 200) }
    }
}
