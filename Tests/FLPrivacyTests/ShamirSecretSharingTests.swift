import Testing
@testable import FLPrivacy

@Suite struct ShamirSecretSharingTests {
    /// Every subset of t of the n shares gives the secret back, in any order.
    @Test(arguments: [(2, 2), (3, 5), (4, 7), (5, 5)])
    func anyThresholdOfTheSharesGivesTheSecret(threshold: Int, count: Int) throws {
        let secret = try SecureRandom.bytes(32)
        let sharing = ShamirSecretSharing(threshold: threshold)
        let shares = try sharing.split(secret, count: count)
        #expect(shares.map(\.x) == (1...count).map { UInt64($0) })
        #expect(shares.allSatisfy { $0.values.count == 5 })
        for subset in subsets(of: Array(shares.indices), size: threshold) {
            #expect(try sharing.combine(subset.map { shares[$0] }) == secret)
            #expect(try sharing.combine(subset.reversed().map { shares[$0] }) == secret)
        }
    }

    /// t − 1 shares are refused, and t − 1 shares plus a forged one give something else (or fail).
    @Test func fewerSharesOrAForgedOneDoNotGiveTheSecret() throws {
        let secret = try SecureRandom.bytes(32)
        let sharing = ShamirSecretSharing(threshold: 3)
        let shares = try sharing.split(secret, count: 5)
        #expect(throws: SecureAggregationError.self) { try sharing.combine(Array(shares.prefix(2))) }
        var forged = shares[2]
        forged.values[0] = PrimeField.add(forged.values[0], 1)
        let rebuilt = try? sharing.combine([shares[0], shares[1], forged])
        #expect(rebuilt != secret)
        #expect(throws: SecureAggregationError.self) { try sharing.combine([shares[0], shares[0], shares[1]]) }
    }

    /// Secrets whose chunks are all zeros or all ones (the edges of the 56-bit chunks) survive.
    @Test(arguments: [UInt8(0), 0xff])
    func extremeSecrets(byte: UInt8) throws {
        let secret = [UInt8](repeating: byte, count: 32)
        let sharing = ShamirSecretSharing(threshold: 2)
        let shares = try sharing.split(secret, count: 3)
        #expect(try sharing.combine([shares[2], shares[0]]) == secret)
    }

    @Test func sharesRoundTripThroughBytes() throws {
        let shares = try ShamirSecretSharing(threshold: 2).split(SecureRandom.bytes(32), count: 3)
        for share in shares {
            #expect(share.bytes.count == 48)
            #expect(ShamirShare(bytes: share.bytes, chunks: 5) == share)
        }
        #expect(ShamirShare(bytes: shares[0].bytes, chunks: 4) == nil)
        #expect(ShamirShare(bytes: [UInt8](repeating: 0, count: 48), chunks: 5) == nil)
        #expect(ShamirShare(bytes: [0, 0, 0, 0, 0, 0, 0, 1] + [UInt8](repeating: 0xff, count: 40), chunks: 5) == nil)
    }

    private func subsets(of items: [Int], size: Int) -> [[Int]] {
        if size == 0 { return [[]] }
        guard let first = items.first else { return [] }
        let rest = Array(items.dropFirst())
        return subsets(of: rest, size: size - 1).map { [first] + $0 } + subsets(of: rest, size: size)
    }
}
