import Foundation
import Testing
import FLCore
import FLTesting
import FLWire
@testable import FLCLI
import FLPKI

@Suite struct PKICommandsTests {
    @Test func initRequestSignAndCertify() throws {
        let dir = try TemporaryDirectory()
        let ca = dir.appending("ca")
        #expect(fx(["pki", "init", "--dir", ca]).status == 0)
        let again = fx(["pki", "init", "--dir", ca])
        #expect(again.status == 1 && again.err.contains("already"), "\(again.err)")

        // At the site: a key that stays there and a request that travels.
        let site = dir.appending("site")
        let request = fx(["pki", "request", "--name", "hospital_a", "--host", "10.0.0.5", "--dir", site])
        #expect(request.status == 0, "\(request.err)")
        let keyMode = try FileManager.default.attributesOfItem(atPath: "\(site)/hospital_a.key")[.posixPermissions] as? Int
        #expect(keyMode == 0o600)

        // At the operator's: sign, and compare the printed fingerprint with the certificate's.
        let signed = fx(["pki", "sign", "--csr", "\(site)/hospital_a.csr", "--role", "envoy", "--ca-dir", ca])
        #expect(signed.status == 0, "\(signed.err)")
        let certificate = try Certificate.load(path: "\(site)/hospital_a.crt")
        #expect(signed.out.contains("SHA-256 fingerprint: \(certificate.fingerprint)"))
        #expect(certificate.commonName == "hospital_a")
        #expect(certificate.subjectAlternativeNames == [.ipAddress("10.0.0.5")])
        #expect(certificate.role == .envoy)
        #expect(certificate.extendedKeyUsage == [.clientAuth])
        let verify = try tool("/usr/bin/openssl", ["verify", "-CAfile", "\(ca)/ca.crt", "\(site)/hospital_a.crt"])
        #expect(verify.contains("OK"))
        // The role shows where an operator looks.
        let text = try tool("/usr/bin/openssl", ["x509", "-noout", "-text", "-in", "\(site)/hospital_a.crt"])
        #expect(text.contains("URI:urn:swiftfl:role:envoy"), "\(text)")

        // One step, for a federation on one machine.
        let certify = fx(["pki", "certify", "--name", "aggregator", "--role", "aggregator", "--ca-dir", ca, "--dir", dir.appending("agg")])
        #expect(certify.status == 0, "\(certify.err)")
        let aggregator = try Certificate.load(path: dir.appending("agg/aggregator.crt"))
        #expect(aggregator.role == .aggregator && aggregator.extendedKeyUsage == [.serverAuth, .clientAuth])
        for file in ["aggregator.key", "aggregator.crt", "ca.crt"] {
            #expect(FileManager.default.fileExists(atPath: dir.appending("agg/\(file)")))
        }
    }

    @Test func refusesBadNamesAndRoles() throws {
        let dir = try TemporaryDirectory()
        let bad = fx(["pki", "request", "--name", "../evil", "--dir", dir.path])
        #expect(bad.status == 1 && bad.err.contains("'/'"), "\(bad.err)")
        let old = fx(["pki", "sign", "--csr", "x.csr", "--role", "server"])
        #expect(old.status == 64 && old.err.contains("'server' is now director or aggregator"), "\(old.err)")
        let unknown = fx(["pki", "certify", "--name", "x", "--role", "root"])
        #expect(unknown.status == 64 && unknown.err.contains("expected one of director, aggregator, envoy, user, admin"), "\(unknown.err)")
        let missing = fx(["pki", "certify", "--name", "x"])
        #expect(missing.status == 64 && missing.err.contains("--role"), "\(missing.err)")
    }

    @Test func revokeByNameAndByFile() throws {
        let dir = try TemporaryDirectory()
        let ca = dir.appending("ca")
        let initialized = fx(["pki", "init", "--dir", ca])
        #expect(initialized.status == 0 && initialized.out.contains("\(ca)/crl.pem"), "\(initialized.out)")
        #expect(FileManager.default.fileExists(atPath: "\(ca)/crl.pem"), "init writes an empty list configurations can name at once")
        for name in ["site-a", "site-b"] {
            #expect(fx(["pki", "certify", "--name", name, "--role", "envoy", "--ca-dir", ca, "--dir", dir.appending(name)]).status == 0)
        }
        let siteA = try Certificate.load(path: dir.appending("site-a/site-a.crt"))
        let siteB = try Certificate.load(path: dir.appending("site-b/site-b.crt"))

        let byName = fx(["pki", "revoke", "site-a", "--ca-dir", ca])
        #expect(byName.status == 0, "\(byName.err)")
        #expect(byName.out.contains("revoked 'site-a' serial \(siteA.serialNumber)"), "\(byName.out)")
        #expect(byName.out.contains("revocation list: \(ca)/crl.pem"), "\(byName.out)")
        #expect(byName.out.contains("Copy it to every Director, Envoy and aggregator machine"), "\(byName.out)")
        let byFile = fx(["pki", "revoke", "--cert", dir.appending("site-b/site-b.crt"), "--ca-dir", ca])
        #expect(byFile.status == 0 && byFile.out.contains("revoked 'site-b' serial \(siteB.serialNumber)"), "\(byFile.out) \(byFile.err)")
        let text = try tool("/usr/bin/openssl", ["crl", "-noout", "-text", "-in", "\(ca)/crl.pem"])
        #expect(text.contains(siteA.serialNumber) && text.contains(siteB.serialNumber), "\(text)")

        let again = fx(["pki", "revoke", "site-a", "--ca-dir", ca])
        #expect(again.status == 0 && again.out.contains("was already revoked"), "\(again.out)")
        let unknown = fx(["pki", "revoke", "site-z", "--ca-dir", ca])
        #expect(unknown.status == 1 && unknown.err.contains(ca) && unknown.err.contains("no certificate issued for 'site-z'"), "\(unknown.err)")
        let both = fx(["pki", "revoke", "site-a", "--cert", "x.crt", "--ca-dir", ca])
        #expect(both.status == 64 && both.err.contains("either a NAME or --cert FILE"), "\(both.err)")
        let neither = fx(["pki", "revoke", "--ca-dir", ca])
        #expect(neither.status == 64, "\(neither.err)")
    }
}
