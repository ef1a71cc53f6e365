import Foundation
import FLCore
import Testing
import FLTesting
@testable import FLArchive
import FLPKI

@Suite("SHA256")
struct SHA256Tests {
    // FIPS 180-2 / NIST example vectors.
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func knownVectors(input: String, expected: String) {
        #expect(SHA256.hexDigest(of: Array(input.utf8)) == expected)
        #expect(SHA256.digest(Data(input.utf8)).count == SHA256.byteCount)
    }

    @Test func millionAsFedInPieces() {
        var hasher = SHA256()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { hasher.update(chunk) }
        #expect(hasher.hexDigest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func incrementalEqualsOneShotAtEverySplit() {
        let bytes = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let whole = SHA256.hexDigest(of: bytes)
        for split in stride(from: 0, through: bytes.count, by: 37) {
            var hasher = SHA256()
            hasher.update(bytes[..<split])
            hasher.update(bytes[split...])
            #expect(hasher.hexDigest() == whole, "split at \(split)")
        }
    }

    @Test func copiesAreIndependentAndDigestDoesNotFinish() {
        var a = SHA256()
        a.update(Array("ab".utf8))
        var b = a
        a.update(Array("c".utf8))
        b.update(Array("x".utf8))
        #expect(a.hexDigest() == SHA256.hexDigest(of: Array("abc".utf8)))
        #expect(b.hexDigest() == SHA256.hexDigest(of: Array("abx".utf8)))
        // Asking for the digest twice, and feeding after it, still works.
        #expect(a.hexDigest() == a.hexDigest())
        a.update(Array("d".utf8))
        #expect(a.hexDigest() == SHA256.hexDigest(of: Array("abcd".utf8)))
    }

    @Test func fileDigestMatchesSha256sum() throws {
        let scratch = try TemporaryDirectory(prefix: "swiftfl-archive")
        defer { scratch.remove() }
        // Larger than the 64 KiB read buffer and not a multiple of it.
        let bytes = (0..<200_001).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ ($0 >> 8)) }
        let file = try scratch.write("blob", bytes)
        let ours = try SHA256.hexDigest(ofFile: file)
        #expect(ours == SHA256.hexDigest(of: bytes))
        let sha256sum = try #require(Tools.find("sha256sum"), "sha256sum is not on PATH")
        let result = try Tools.run(sha256sum, [file])
        #expect(result.status.isSuccess)
        #expect(result.standardOutput.split(separator: " ").first.map(String.init) == ours)
    }

    @Test func missingFileIsAnError() throws {
        #expect(throws: FileError.self) { try SHA256.hexDigest(ofFile: "/nonexistent/swiftfl-sha256") }
    }

    @Test func hexIsLowercaseTwoDigitsPerByte() {
        #expect(SHA256.hex([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
    }
}
