import Foundation
import Testing
import FLCore
import FLTesting
import FLWire
@testable import FLCLI

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
        let signed = fx(["pki", "sign", "--csr", "\(site)/hospital_a.csr", "--role", "server", "--ca-dir", ca])
        #expect(signed.status == 0, "\(signed.err)")
        let certificate = try Certificate.load(path: "\(site)/hospital_a.crt")
        #expect(signed.out.contains("SHA-256 fingerprint: \(certificate.fingerprint)"))
        #expect(certificate.commonName == "hospital_a")
        #expect(certificate.subjectAlternativeNames == [.ipAddress("10.0.0.5")])
        let verify = try tool("/usr/bin/openssl", ["verify", "-CAfile", "\(ca)/ca.crt", "\(site)/hospital_a.crt"])
        #expect(verify.contains("OK"))

        // One step, for a federation on one machine.
        let certify = fx(["pki", "certify", "--name", "aggregator", "--role", "server", "--ca-dir", ca, "--dir", dir.appending("agg")])
        #expect(certify.status == 0, "\(certify.err)")
        for file in ["aggregator.key", "aggregator.crt", "ca.crt"] {
            #expect(FileManager.default.fileExists(atPath: dir.appending("agg/\(file)")))
        }
    }

    @Test func refusesBadNamesAndRoles() throws {
        let dir = try TemporaryDirectory()
        let bad = fx(["pki", "request", "--name", "../evil", "--dir", dir.path])
        #expect(bad.status == 1 && bad.err.contains("'/'"), "\(bad.err)")
        let role = fx(["pki", "sign", "--csr", "x.csr", "--role", "admin"])
        #expect(role.status == 64 && role.err.contains("--role expects server or client"), "\(role.err)")
    }
}
