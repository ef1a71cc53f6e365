import Testing
import FLCore
import FLPrivacy

@Suite struct SecureAggregationEncodingTests {
    /// n sites' encodings, summed mod 2^bits, decode to Σ f·v within n steps (the bound the
    /// encoding computes: each site's stochastic rounding moves a value by less than one step),
    /// plus the Float conversion of the result.
    @Test(arguments: [16, 24, 32])
    func sumsRoundTripWithinTheComputedBound(bits: Int) throws {
        let parameters = SecureAggregationParameters(threshold: 2, clipRange: 1, bits: bits)
        let sites = 5, length = 2000
        let encoding = try SecureAggregationEncoding(parameters: parameters, cohortSize: sites)
        var generator = SplitMix64(state: UInt64(bits))
        var sum = [UInt32](repeating: 0, count: length + 1)
        var expected = [Double](repeating: 0, count: length)
        var weights = 0.0
        for _ in 0..<sites {
            let values = (0..<length).map { _ in Float.random(in: -1...1, using: &generator) }
            let f = Double.random(in: 0...1, using: &generator)
            let encoded = values.withUnsafeBufferPointer { encoding.encode($0, weightFactor: f, using: &generator) }
            #expect(encoded.count == SecureAggregationEncoding.encodedCount(values: length))
            #expect(encoded.allSatisfy { $0 <= encoding.levels })
            for i in 0..<length { expected[i] += f * Double(values[i]) }
            weights += f
            sum = zip(sum, encoded).map { $0 &+ $1 }
        }
        let decoded = try encoding.decode(sum, contributors: sites)
        let bound = encoding.quantizationBound(contributors: sites) + Double(sites) * 0x1p-23
        let worst = zip(decoded.values, expected).map { abs(Double($0) - $1) }.max()!
        #expect(worst <= bound, "worst error \(worst), bound \(bound)")
        #expect(abs(decoded.weightSum - weights) <= Double(sites) / Double(encoding.levels))
    }

    /// L = floor((2^bits − 1)/n): n sites at the top of the range sum to n·L ≤ 2^bits − 1 and decode
    /// exactly; one more site wraps.
    @Test(arguments: [(16, 1), (16, 3), (20, 8), (32, 8), (32, 16)])
    func wrapsExactlyAtTheComputedBound(bits: Int, sites: Int) throws {
        let parameters = SecureAggregationParameters(threshold: 2, clipRange: 0.5, bits: bits)
        let encoding = try SecureAggregationEncoding(parameters: parameters, cohortSize: sites)
        let modulus = UInt64(1) << UInt64(bits)
        let levels = UInt64(encoding.levels)
        #expect(levels == (modulus - 1) / UInt64(sites))
        #expect(UInt64(sites) * levels <= modulus - 1)
        #expect(UInt64(sites + 1) * levels > modulus - 1)
        var generator = SplitMix64(state: 1)
        let top = [Float(0.5), -0.5].withUnsafeBufferPointer { encoding.encode($0, weightFactor: 1, using: &generator) }
        #expect(top == [encoding.levels, 0, encoding.levels])
        func total(_ count: Int) -> [UInt32] {
            top.map { UInt32((UInt64($0) * UInt64(count)) % modulus) }
        }
        let full = try encoding.decode(total(sites), contributors: sites)
        #expect(full.values == [Float(Double(sites) * 0.5), Float(Double(sites) * -0.5)])
        #expect(full.weightSum == Double(sites))
        // One more would have wrapped: decode refuses more contributors than the cohort.
        #expect(throws: SecureAggregationError.self) { _ = try encoding.decode(total(sites + 1), contributors: sites + 1) }
        #expect(throws: SecureAggregationError.self) { _ = try encoding.decode(total(0), contributors: 0) }
    }

    @Test func clipsAndRefusesNaNAndOutOfRangeWeights() throws {
        let parameters = SecureAggregationParameters(threshold: 2, clipRange: 2, bits: 16)
        let encoding = try SecureAggregationEncoding(parameters: parameters, cohortSize: 1)
        var generator = SplitMix64(state: 2)
        let values: [Float] = [100, -100, .nan, .infinity]
        let encoded = values.withUnsafeBufferPointer { encoding.encode($0, weightFactor: 7, using: &generator) }
        #expect(encoded[0] == encoding.levels && encoded[1] == 0 && encoded[3] == encoding.levels && encoded[4] == encoding.levels)
        #expect(abs(Double(encoded[2]) - Double(encoding.levels) / 2) <= 1)
        let none = values.withUnsafeBufferPointer { encoding.encode($0, weightFactor: -1, using: &generator) }
        #expect(try encoding.decode(none, contributors: 1).weightSum == 0)
        #expect(try encoding.decode(none, contributors: 1).values.allSatisfy { abs($0) <= Float(encoding.step) })
    }

    /// The generator gives the seed of the rounding draws: the same seed, the same encoding; another
    /// seed rounds differently.
    @Test func theSameSeedGivesTheSameEncoding() throws {
        let encoding = try SecureAggregationEncoding(parameters: SecureAggregationParameters(threshold: 2, clipRange: 1, bits: 16), cohortSize: 8)
        let values = (0..<40_000).map { Float($0 % 200) / 100 - 1 }
        func encode(seed: UInt64) -> [UInt32] {
            var generator = SplitMix64(state: seed)
            return values.withUnsafeBufferPointer { encoding.encode($0, weightFactor: 0.37, using: &generator) }
        }
        #expect(encode(seed: 4) == encode(seed: 4))
        #expect(encode(seed: 4) != encode(seed: 5))
    }

    /// Stochastic rounding is unbiased: 0.3 on a coarse grid (step 2/65, where rounding to nearest
    /// would give 0.2923) averages to 0.3 over 100,000 values, within 10 standard deviations.
    @Test func stochasticRoundingIsUnbiased() throws {
        let encoding = try SecureAggregationEncoding(parameters: SecureAggregationParameters(threshold: 2, clipRange: 1, bits: 16), cohortSize: 1000)
        #expect(encoding.levels == 65)
        var generator = SplitMix64(state: 3)
        let count = 100_000
        let values = [Float](repeating: 0.3, count: count)
        let encoded = values.withUnsafeBufferPointer { encoding.encode($0, weightFactor: 1, using: &generator) }
        let decoded = try encoding.decode(encoded, contributors: 1).values
        let mean = decoded.reduce(0.0) { $0 + Double($1) } / Double(count)
        let tolerance = 10 * encoding.step / (2 * Double(count).squareRoot())
        #expect(abs(mean - 0.3) < tolerance, "mean \(mean)")
    }

    /// An encoding refuses parameters the modulus cannot hold (bits outside 16...32 would shift
    /// past 64 bits or leave L at 0) and a cohort of no sites.
    @Test(arguments: [(15, 4), (33, 4), (64, 4), (16, 0), (32, -1)])
    func refusesBitsOrCohortsThatCannotWork(bits: Int, cohort: Int) {
        #expect(throws: SecureAggregationError.self) {
            _ = try SecureAggregationEncoding(parameters: SecureAggregationParameters(threshold: 2, clipRange: 1, bits: bits), cohortSize: cohort)
        }
    }
}
