import Testing
@testable import FLPrivacy

/// Vectors from RFC 7748 (Langley, Hamburg, Turner: Elliptic Curves for Security), §5.2 and §6.1.
@Suite struct X25519KeyPairTests {
    @Test(arguments: [
        ("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
         "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
         "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"),
        ("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
         "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
         "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"),
    ])
    func scalarMultiplicationMatchesRFC7748Section5_2(scalar: String, u: String, output: String) throws {
        let pair = try X25519KeyPair(privateKey: hex(scalar))
        #expect(try pair.sharedSecret(with: hex(u)) == hex(output))
    }

    @Test func diffieHellmanMatchesRFC7748Section6_1() throws {
        let alice = try X25519KeyPair(privateKey: hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
        let bob = try X25519KeyPair(privateKey: hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"))
        #expect(alice.publicKey == hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"))
        #expect(bob.publicKey == hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"))
        let shared = hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
        #expect(try alice.sharedSecret(with: bob.publicKey) == shared)
        #expect(try bob.sharedSecret(with: alice.publicKey) == shared)
    }

    @Test func generatedPairsAgree() throws {
        let a = try X25519KeyPair.generate(), b = try X25519KeyPair.generate()
        #expect(a.privateKey != b.privateKey)
        #expect(try a.sharedSecret(with: b.publicKey) == b.sharedSecret(with: a.publicKey))
        #expect(try X25519KeyPair(privateKey: a.privateKey) == a)
    }

    @Test func refusesLowOrderAndMalformedPeers() throws {
        let pair = try X25519KeyPair.generate()
        // u = 0 and u = 1 are points of small order: the shared secret would be all zeros.
        #expect(throws: SecureAggregationError.self) { try pair.sharedSecret(with: [UInt8](repeating: 0, count: 32)) }
        #expect(throws: SecureAggregationError.self) { try pair.sharedSecret(with: [1] + [UInt8](repeating: 0, count: 31)) }
        #expect(throws: SecureAggregationError.self) { try pair.sharedSecret(with: [UInt8](repeating: 9, count: 31)) }
    }

    /// The points of small order on Curve25519 and non-canonical encodings (u ≥ p, top bit set).
    static let refusedPublicKeys = [
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882bcf",
    ]

    @Test(arguments: refusedPublicKeys)
    func refusesSmallOrderAndNonCanonicalPublicKeys(key: String) {
        #expect(X25519KeyPair.publicKeyProblem(hex(key)) != nil)
    }

    @Test func acceptsGeneratedPublicKeys() throws {
        for _ in 0..<20 { #expect(X25519KeyPair.publicKeyProblem(try X25519KeyPair.generate().publicKey) == nil) }
        #expect(X25519KeyPair.publicKeyProblem(hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")) == nil)
        #expect(X25519KeyPair.publicKeyProblem([UInt8](repeating: 9, count: 31)) != nil)
    }
}
