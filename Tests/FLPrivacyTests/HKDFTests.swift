import Testing
@testable import FLPrivacy

/// RFC 5869 (Krawczyk, Eronen: HMAC-based Extract-and-Expand Key Derivation Function), appendix A.
@Suite struct HKDFTests {
    @Test func matchesRFC5869TestCase1() throws {
        let okm = try HKDF.sha256(key: [UInt8](repeating: 0x0b, count: 22), salt: hex("000102030405060708090a0b0c"),
                                  info: hex("f0f1f2f3f4f5f6f7f8f9"), length: 42)
        #expect(okm == hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"))
    }

    /// Test case 3: no salt (HashLen zeros) and empty info, the form the protocol uses for its keys.
    @Test func matchesRFC5869TestCase3() throws {
        let okm = try HKDF.sha256(key: [UInt8](repeating: 0x0b, count: 22), info: [], length: 42)
        #expect(okm == hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"))
    }

    @Test func differentInfoGivesDifferentKeys() throws {
        let key = [UInt8](repeating: 7, count: 32)
        let a = try HKDF.sha256(key: key, info: SecureAggregationRound(experiment: "e", round: 1, attempt: 0).binding("x"), length: 32)
        let b = try HKDF.sha256(key: key, info: SecureAggregationRound(experiment: "e", round: 1, attempt: 1).binding("x"), length: 32)
        #expect(a != b)
    }
}
