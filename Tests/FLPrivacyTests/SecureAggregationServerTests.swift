import Testing
import FLPrivacy

@Suite struct SecureAggregationServerTests {
    @Test(arguments: [32, 16, 20])
    func honestRoundGivesTheSum(bits: Int) throws {
        var harness = try SecureAggregationHarness(sites: 5, threshold: 3, bits: bits, length: 1000)
        var generator = SplitMix64(seed: UInt64(bits))
        let inputs = harness.randomInputs(using: &generator)
        let result = try harness.run(inputs: inputs)
        #expect(result.contributors == harness.sites)
        #expect(result.badShares.isEmpty)
        #expect(result.sum == harness.plainSum(inputs, of: harness.sites))
        // Every masked vector differs from its input almost everywhere.
        for site in harness.sites {
            let same = zip(harness.masked[site]!, inputs[site]!).filter { $0 == $1 }.count
            #expect(same < 5)
        }
    }
}
