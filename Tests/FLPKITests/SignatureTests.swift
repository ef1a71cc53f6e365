import Foundation
import Testing
import FLTesting
import FLPKI

/// Signatures with a participant's key and the checks a peer makes of a certificate it was handed
/// (not through TLS): issued by the CA, DER round trip.
@Suite struct SignatureTests {
    @Test func aSignatureVerifiesUnderItsOwnCertificateOnly() throws {
        let pki = try TestPKI()
        let key = try PrivateKey.generate()
        let certificate = try pki.authority.sign(CertificateRequest(name: "site-a", key: key), role: .envoy)
        let other = try pki.authority.sign(CertificateRequest(name: "site-b", key: PrivateKey.generate()), role: .envoy)
        let message: [UInt8] = Array("keys of round 3".utf8)
        let signature = try key.sign(message)
        #expect(certificate.verifySignature(signature, over: message))
        #expect(!other.verifySignature(signature, over: message))
        var altered = message
        altered[0] ^= 1
        #expect(!certificate.verifySignature(signature, over: altered))
        var forged = signature
        forged[forged.count - 1] ^= 1
        #expect(!certificate.verifySignature(forged, over: message))
        #expect(!certificate.verifySignature([], over: message))
    }

    @Test func isIssuedByNamesTheSigningAuthorityOnly() throws {
        let pki = try TestPKI(), stranger = try TestPKI(commonName: "SwiftFL Test CA")
        let certificate = try pki.authority.sign(CertificateRequest(name: "site-a", key: PrivateKey.generate()), role: .envoy)
        #expect(certificate.isIssued(by: pki.authority.certificate))
        // Same CA name, another key: the signature decides.
        #expect(!certificate.isIssued(by: stranger.authority.certificate))
        #expect(!pki.authority.certificate.isIssued(by: certificate))
    }

    @Test func derRoundTripsAndRefusesTrailingBytes() throws {
        let pki = try TestPKI()
        let certificate = try pki.authority.sign(CertificateRequest(name: "site-a", key: PrivateKey.generate()), role: .envoy)
        let parsed = try Certificate(der: certificate.der)
        #expect(parsed.fingerprint == certificate.fingerprint)
        #expect(parsed.der == certificate.der)
        #expect(throws: PKIError.self) { try Certificate(der: certificate.der + [0]) }
        #expect(throws: PKIError.self) { try Certificate(der: Array(certificate.der.dropLast())) }
        #expect(throws: PKIError.self) { try Certificate(der: []) }
    }
}
