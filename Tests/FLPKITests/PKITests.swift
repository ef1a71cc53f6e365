import Foundation
import Testing
import FLTesting
import FLWire
import FLPKI

@Suite struct PKITests {
    @Test(arguments: ["site-1", "aggregator", "a", "Hospital.North_2", "0", String(repeating: "x", count: 64)])
    func acceptsNames(_ name: String) throws {
        try PKI.validate(name: name)
    }

    @Test(arguments: [
        ("", "empty"), ("a/b", "'/'"), ("nul\u{0}byte", "NUL"), ("bell\u{7}", "control character"), ("new\nline", "control character"),
        ("has space", "' '"), ("ümlaut", "'ü'"), ("../up", "'/'"), (".hidden", "starts with"), ("-option", "starts with"),
        (String(repeating: "x", count: 65), "65 bytes"),
    ])
    func refusesNames(_ name: String, _ why: String) throws {
        let error = #expect(throws: PKIError.self) { try PKI.validate(name: name) }
        #expect(error?.kind == .invalidName)
        #expect(error?.description.contains(why) == true, "\(String(describing: error))")
        // Control characters are escaped so the message is safe to print.
        #expect(error?.description.unicodeScalars.contains { $0.value < 0x20 } == false)
    }

    @Test func refusedNamesWriteNothing() throws {
        let temporary = try TemporaryDirectory()
        let ca = try CertificateAuthority.create(directory: temporary.appending("ca"))
        for name in ["", "a/b", "x\u{0}y"] {
            #expect(throws: PKIError.self) { try CertificateRequest.create(name: name, directory: temporary.appending("out")) }
            #expect(throws: PKIError.self) { try ca.certify(name: name, role: .envoy, directory: temporary.appending("out")) }
            #expect(throws: PKIError.self) { try CertificateRequest(name: name, key: PrivateKey.generate()) }
        }
        #expect(!FileManager.default.fileExists(atPath: temporary.appending("out")))
    }

    @Test func defaultValidityAllowsForClockSkew() {
        let now = Date()
        let validity = Validity.days(30, from: now)
        #expect(validity.notBefore == now.addingTimeInterval(-Validity.clockSkewAllowance))
        #expect(validity.notAfter == now.addingTimeInterval(30 * 86_400))
        #expect(validity.contains(now))
    }
}
