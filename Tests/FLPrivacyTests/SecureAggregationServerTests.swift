import Testing
import FLCore
import FLPrivacy

@Suite struct SecureAggregationServerTests {
    @Test(arguments: [32, 16, 20])
    func honestRoundGivesTheSum(bits: Int) throws {
        var harness = try SecureAggregationHarness(sites: 5, threshold: 3, bits: bits, length: 1000)
        var generator = SplitMix64(state: UInt64(bits))
        let inputs = harness.randomInputs(using: &generator)
        let result = try harness.run(inputs: inputs)
        #expect(result.contributors == harness.sites)
        #expect(result.badShares.isEmpty)
        #expect(result.sum == harness.plainSum(inputs, of: harness.sites))
    }

    /// The masked vectors the server receives look uniform mod 2^bits: Pearson's chi-square over
    /// 256 buckets (the top 8 of the `bits` bits) stays below 415, the 1 − 1e-9 quantile of χ²(255)
    /// (Wilson–Hilferty: 255·(1 − 2/2295 + 5.998·√(2/2295))³ ≈ 414.9). The same test on the
    /// encoded vectors before masking fails, so it can fail.
    @Test(arguments: [32, 16])
    func maskedInputsLookUniform(bits: Int) throws {
        var harness = try SecureAggregationHarness(sites: 5, threshold: 3, bits: bits, length: 20_001)
        let encoding = try SecureAggregationEncoding(parameters: harness.parameters, cohortSize: 5)
        var generator = SplitMix64(state: 11)
        var inputs: [String: [UInt32]] = [:]
        for site in harness.sites {
            let update = (1..<harness.length).map { _ in Float.random(in: -0.1...0.1, using: &generator) }
            inputs[site] = update.withUnsafeBufferPointer { encoding.encode($0, weightFactor: 0.8, using: &generator) }
        }
        _ = try harness.run(inputs: inputs)
        let masked = harness.sites.flatMap { harness.masked[$0]! }
        let plain = harness.sites.flatMap { inputs[$0]! }
        #expect(chiSquare(masked, bits: bits) < 415, "masked: \(chiSquare(masked, bits: bits))")
        #expect(chiSquare(plain, bits: bits) > 415, "unmasked: \(chiSquare(plain, bits: bits))")
    }

    private func chiSquare(_ values: [UInt32], bits: Int) -> Double {
        var counts = [Int](repeating: 0, count: 256)
        let mask = bits == 32 ? UInt32.max : UInt32((1 << bits) - 1)
        for value in values { counts[Int((value & mask) >> UInt32(bits - 8))] += 1 }
        let expected = Double(values.count) / 256
        return counts.reduce(0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
    }

    /// Real updates through the encoding: Σ f·v of the contributors comes back within the bound
    /// the encoding computes (n steps, plus the Float conversion).
    private func encodedRound(dropAfterSharing: Set<String>, silentAfterMasking: Set<String>) throws -> (result: UnmaskedSum, expected: [Double], weights: Double, bound: Double, encoding: SecureAggregationEncoding) {
        let length = 500
        var harness = try SecureAggregationHarness(sites: 5, threshold: 3, bits: 32, length: length + 1)
        let encoding = try SecureAggregationEncoding(parameters: harness.parameters, cohortSize: 5)
        var generator = SplitMix64(state: 5)
        var inputs: [String: [UInt32]] = [:]
        var plain: [String: (values: [Float], f: Double)] = [:]
        for site in harness.sites {
            let values = (0..<length).map { _ in Float.random(in: -1...1, using: &generator) }
            let f = Double.random(in: 0.1...1, using: &generator)
            plain[site] = (values, f)
            inputs[site] = values.withUnsafeBufferPointer { encoding.encode($0, weightFactor: f, using: &generator) }
        }
        let roster = try harness.advertise()
        let members = try harness.shareKeys(roster)
        let (survivors, dropped) = try harness.maskInputs(members, inputs: inputs, absent: dropAfterSharing)
        #expect(dropped == dropAfterSharing.sorted())
        let result = try harness.reveal(survivors: survivors, dropped: dropped, absent: silentAfterMasking)
        var expected = [Double](repeating: 0, count: length)
        for site in result.contributors { for i in 0..<length { expected[i] += plain[site]!.f * Double(plain[site]!.values[i]) } }
        let weights = result.contributors.reduce(0) { $0 + plain[$1]!.f }
        let bound = encoding.quantizationBound(contributors: result.contributors.count) + 5 * 0x1p-23
        return (result, expected, weights, bound, encoding)
    }

    /// A site that drops after its masked input arrived (it never reveals) is a survivor: its input
    /// is in the sum, and the four others' shares of its self-mask seed remove its self mask.
    @Test func aSiteSilentAfterItsMaskedInputStillCounts() throws {
        let round = try encodedRound(dropAfterSharing: [], silentAfterMasking: ["site-3"])
        #expect(round.result.contributors == ["site-1", "site-2", "site-3", "site-4", "site-5"])
        try expectDecodes(round)
    }

    /// A site that drops after sharing keys, before its masked input: the sum is the four others',
    /// its pairwise masks removed through its masking key rebuilt from their shares.
    @Test func aSiteDroppingBeforeItsMaskedInputIsLeftOut() throws {
        let round = try encodedRound(dropAfterSharing: ["site-2"], silentAfterMasking: [])
        #expect(round.result.contributors == ["site-1", "site-3", "site-4", "site-5"])
        try expectDecodes(round)
    }

    /// Both at once, with the threshold met exactly by the revealers.
    @Test func oneDropsBeforeAndOneAfterItsMaskedInput() throws {
        let round = try encodedRound(dropAfterSharing: ["site-5"], silentAfterMasking: ["site-1"])
        #expect(round.result.contributors == ["site-1", "site-2", "site-3", "site-4"])
        try expectDecodes(round)
    }

    private func expectDecodes(_ round: (result: UnmaskedSum, expected: [Double], weights: Double, bound: Double, encoding: SecureAggregationEncoding)) throws {
        let decoded = try round.encoding.decode(round.result.sum, contributors: round.result.contributors.count)
        let worst = zip(decoded.values, round.expected).map { abs(Double($0) - $1) }.max()!
        #expect(worst <= round.bound, "worst error \(worst), bound \(round.bound)")
        #expect(abs(decoded.weightSum - round.weights) <= Double(round.result.contributors.count) / Double(round.encoding.levels))
        #expect(round.result.badShares.isEmpty)
    }
}
