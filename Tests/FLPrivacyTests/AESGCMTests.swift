import Testing
@testable import FLPrivacy

/// Test case 16 of McGrew and Viega, "The Galois/Counter Mode of Operation (GCM)" (the NIST submission,
/// 2005): AES-256, 96-bit IV, additional authenticated data.
@Suite struct AESGCMTests {
    let key = hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
    let nonce = hex("cafebabefacedbaddecaf888")
    let plaintext = hex("""
        d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72
        1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39
        """)
    let aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
    let ciphertext = hex("""
        522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa
        8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662
        """)
    let tag = hex("76fc6ece0f4e1768cddf8853bb2d551b")

    @Test func sealsTheSpecificationVector() throws {
        #expect(try AESGCM.seal(plaintext, key: key, aad: aad, nonce: nonce) == nonce + ciphertext + tag)
    }

    @Test func opensTheSpecificationVector() throws {
        #expect(try AESGCM.open(nonce + ciphertext + tag, key: key, aad: aad) == plaintext)
    }

    @Test func refusesAnyChange() throws {
        let sealed = try AESGCM.seal(plaintext, key: key, aad: aad)
        for index in [0, 12, sealed.count - 1] {
            var altered = sealed
            altered[index] ^= 1
            #expect(throws: SecureAggregationError.self) { try AESGCM.open(altered, key: key, aad: aad) }
        }
        #expect(throws: SecureAggregationError.self) { try AESGCM.open(sealed, key: key, aad: aad + [0]) }
        var otherKey = key
        otherKey[0] ^= 1
        #expect(throws: SecureAggregationError.self) { try AESGCM.open(sealed, key: otherKey, aad: aad) }
        #expect(try AESGCM.open(sealed, key: key, aad: aad) == plaintext)
    }
}
