import Testing
@testable import FLPrivacy

/// What the server holds before unmasking looks uniform: the running total Σy (the self masks
/// hide Σx until the survivors reveal their seeds) and the difference of two masked inputs.
/// Each check also shows its statistic catches the unmasked value, so it could fail.
@Suite struct SecureAggregationUniformityTests {
    static let bits = 16
    static let buckets = 16
    /// χ² with 15 degrees of freedom exceeds this with probability about 10⁻⁶ (Wilson–Hilferty).
    static let critical = 57.4

    /// Pearson's χ² of the top 4 bits of `values` against the uniform distribution.
    private func chiSquared(_ values: [UInt32]) -> Double {
        var counts = [Int](repeating: 0, count: Self.buckets)
        for value in values { counts[Int(value >> UInt32(Self.bits - 4)) & (Self.buckets - 1)] += 1 }
        let expected = Double(values.count) / Double(Self.buckets)
        return counts.reduce(0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
    }

    private func reduce(_ values: [UInt32]) -> [UInt32] { values.map { $0 & UInt32((1 << Self.bits) - 1) } }

    /// A round of 4 sites, every input the same constant vector, stopped before unmasking.
    private func maskedRound() throws -> SecureAggregationHarness {
        var harness = try SecureAggregationHarness(sites: 4, threshold: 3, bits: Self.bits, length: 20_000)
        let inputs = Dictionary(uniqueKeysWithValues: harness.sites.map { ($0, [UInt32](repeating: 1000, count: 20_000)) })
        _ = try harness.maskInputs(harness.shareKeys(harness.advertise()), inputs: inputs)
        return harness
    }

    @Test func theServersTotalBeforeUnmaskingIsUniform() throws {
        let harness = try maskedRound()
        var total = [UInt32](repeating: 0, count: harness.length)
        for y in harness.masked.values { for i in total.indices { total[i] &+= y[i] } }
        total = reduce(total)
        #expect(chiSquared(total) < Self.critical, "χ² \(chiSquared(total))")
        // Without the self masks (taken off here with the seeds only the sites hold) the pairwise
        // masks cancel and the total is Σx: the same statistic refuses it.
        try total.withUnsafeMutableBufferPointer { values in
            for site in harness.sites {
                let client = harness.clients[site]!
                try MaskGenerator(seed: ProtocolKeys.selfMaskSeed(client.selfMaskSeed, context: client.context, owner: site)).subtract(from: values)
            }
        }
        total = reduce(total)
        #expect(total.allSatisfy { $0 == 4000 })
        #expect(chiSquared(total) > Self.critical)
    }

    @Test func theDifferenceOfTwoMaskedInputsIsUniform() throws {
        let harness = try maskedRound()
        let difference = reduce(zip(harness.masked["site-1"]!, harness.masked["site-2"]!).map { $0 &- $1 })
        #expect(chiSquared(difference) < Self.critical, "χ² \(chiSquared(difference))")
        // The inputs' own difference (zero) is what the masks hide.
        #expect(chiSquared([UInt32](repeating: 0, count: harness.length)) > Self.critical)
    }
}
