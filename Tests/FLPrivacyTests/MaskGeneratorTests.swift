import Testing
@testable import FLPrivacy

@Suite struct MaskGeneratorTests {
    /// NIST SP 800-38A, appendix F.5.5 (CTR-AES256.Encrypt): the keystream XOR the plaintext is the ciphertext.
    @Test func keystreamMatchesSP800_38A_F5_5() throws {
        let generator = try MaskGenerator(key: hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"),
                                          initialCounter: hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"))
        let plaintext = hex("""
            6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51
            30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710
            """)
        let ciphertext = hex("""
            601ec313775789a5b7a7f504bbf3d228 f443e3ca4d62b59aca84e990cacaf5c5
            2b0930daa23de94ce87017ba2d84988d dfc9c58db67aada613c2dd08457941a6
            """)
        var keystream = [UInt8](repeating: 0xff, count: 64)
        try keystream.withUnsafeMutableBytes { (raw) in try generator.fill(raw) }
        #expect(zip(keystream, plaintext).map { $0 ^ $1 } == ciphertext)
    }

    /// Adding and subtracting expand the same words as filling, across the 64 KiB blocks they work in.
    @Test func addAndSubtractUseTheFilledWords() throws {
        let generator = try MaskGenerator(seed: [UInt8](repeating: 3, count: 32))
        let count = 40_000
        var words = [UInt32](repeating: 0, count: count)
        try words.withUnsafeMutableBufferPointer { (w) in try generator.fill(w) }
        var added = (0..<count).map { UInt32($0) }
        try added.withUnsafeMutableBufferPointer { (w) in try generator.add(into: w) }
        #expect(added == (0..<count).map { UInt32($0) &+ words[$0] })
        try added.withUnsafeMutableBufferPointer { (w) in try generator.subtract(from: w) }
        #expect(added == (0..<count).map { UInt32($0) })
        #expect(Set(words).count > count - 10)
    }

    @Test func differentSeedsGiveDifferentMasks() throws {
        var a = [UInt32](repeating: 0, count: 8), b = a
        try a.withUnsafeMutableBufferPointer { (w) in try MaskGenerator(seed: [UInt8](repeating: 1, count: 32)).fill(w) }
        try b.withUnsafeMutableBufferPointer { (w) in try MaskGenerator(seed: [UInt8](repeating: 2, count: 32)).fill(w) }
        #expect(a != b)
        #expect(throws: SecureAggregationError.self) { try MaskGenerator(seed: [1, 2, 3]) }
    }
}
