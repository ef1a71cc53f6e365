#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import FLCore
import FLTesting
import FLWire
import FLPKI

/// The CA as the `fx pki` commands use it: files on disk, checked by the OpenSSL command-line tool.
@Suite struct CertificateAuthorityTests {
    let temporary: TemporaryDirectory
    var caDirectory: String { temporary.appending("ca") }

    init() throws { temporary = try TemporaryDirectory(prefix: "ca-tests") }

    private func mode(_ path: String) throws -> mode_t {
        var st = stat()
        try #require(stat(path, &st) == 0, "stat \(path)")
        return st.st_mode & 0o777
    }

    @Test func createWritesSelfSignedCAWithPrivateKey() throws {
        let ca = try CertificateAuthority.create(directory: caDirectory, commonName: "Hospital Federation CA")
        #expect(try mode("\(caDirectory)/ca.key") == 0o600)
        #expect(try mode(caDirectory) == 0o700)
        let certificate = try Certificate.load(path: "\(caDirectory)/ca.crt")
        #expect(certificate.commonName == "Hospital Federation CA")
        #expect(certificate.issuerCommonName == "Hospital Federation CA")
        #expect(certificate.isCertificateAuthority)
        #expect(certificate.fingerprint == ca.certificate.fingerprint)
        // Ten years by default, give or take the clock-skew allowance.
        let years = certificate.notAfter.timeIntervalSince(Date()) / (365.25 * 86_400)
        #expect(years > 9.9 && years < 10.1)

        let text = try OpenSSLCommand.run(["x509", "-noout", "-text", "-in", "\(caDirectory)/ca.crt"])
        #expect(text.succeeded, "\(text.errors)")
        #expect(text.output.contains("CA:TRUE"))
        #expect(text.output.contains("Certificate Sign, CRL Sign"))
        #expect(text.output.contains("Subject Key Identifier"))
        #expect(text.output.contains("X509v3 Basic Constraints: critical"))
        #expect(text.output.contains("X509v3 Key Usage: critical"))
        // A self-signed CA certificate verifies against itself.
        let verify = try OpenSSLCommand.run(["verify", "-CAfile", "\(caDirectory)/ca.crt", "\(caDirectory)/ca.crt"])
        #expect(verify.succeeded, "\(verify.output) \(verify.errors)")
    }

    @Test func createRefusesToReplaceAnExistingCA() throws {
        let first = try CertificateAuthority.create(directory: caDirectory)
        let error = #expect(throws: PKIError.self) { try CertificateAuthority.create(directory: caDirectory) }
        #expect(error?.kind == .alreadyExists)
        #expect(error?.path == "\(caDirectory)/ca.key")
        // The first CA is untouched.
        #expect(try CertificateAuthority.load(directory: caDirectory).certificate.fingerprint == first.certificate.fingerprint)
    }

    @Test func serialNumbersAreRandomAndPositive() throws {
        let ca = try CertificateAuthority.create(directory: caDirectory)
        let key = try PrivateKey.generate()
        let request = try CertificateRequest(name: "site", key: key)
        let serials = try (0..<4).map { _ in try ca.sign(request, role: .envoy).serialNumber }
        #expect(Set(serials).count == 4)
        for serial in serials + [ca.certificate.serialNumber] {
            #expect(!serial.hasPrefix("-"))
            #expect(serial.count >= 24 && serial.count <= 32, "128-bit serial, got \(serial)")
        }
    }

    @Test func signingARequestFileWritesCertificateOpenSSLAccepts() throws {
        let ca = try CertificateAuthority.create(directory: caDirectory)
        let siteDirectory = temporary.appending("site")
        let files = try CertificateRequest.create(name: "aggregator", hosts: ["agg.example.org", "10.1.2.3", "::1"], directory: siteDirectory)
        #expect(files.keyPath == "\(siteDirectory)/aggregator.key")
        #expect(files.requestPath == "\(siteDirectory)/aggregator.csr")
        #expect(try mode(files.keyPath) == 0o600)

        let issued = try ca.sign(requestPath: files.requestPath, role: .aggregator)
        #expect(issued.path == "\(siteDirectory)/aggregator.crt")
        #expect(issued.commonName == "aggregator")
        let certificate = try Certificate.load(path: issued.path)
        #expect(certificate.commonName == "aggregator")
        #expect(certificate.issuerCommonName == "SwiftFL CA")
        #expect(certificate.subjectAlternativeNames == [.dnsName("agg.example.org"), .ipAddress("10.1.2.3"), .ipAddress("::1")])
        #expect(certificate.extendedKeyUsage == [.serverAuth, .clientAuth])
        #expect(!certificate.isCertificateAuthority)
        #expect(certificate.matches(try PrivateKey.load(path: files.keyPath)))
        #expect(ca.issued(certificate))
        let days = certificate.notAfter.timeIntervalSince(Date()) / 86_400
        #expect(days > 364 && days < 366)

        let verify = try OpenSSLCommand.run(["verify", "-CAfile", ca.certificatePath, "-purpose", "sslserver", issued.path])
        #expect(verify.succeeded, "\(verify.output) \(verify.errors)")
        #expect(verify.output.contains(": OK"))
        let asClient = try OpenSSLCommand.run(["verify", "-CAfile", ca.certificatePath, "-purpose", "sslclient", issued.path])
        #expect(asClient.succeeded, "a server also dials out: \(asClient.output) \(asClient.errors)")

        let text = try OpenSSLCommand.run(["x509", "-noout", "-text", "-in", issued.path])
        #expect(text.output.contains("DNS:agg.example.org"))
        #expect(text.output.contains("IP Address:10.1.2.3"))
        #expect(text.output.contains("IP Address:0:0:0:0:0:0:0:1"))
        #expect(text.output.contains("TLS Web Server Authentication, TLS Web Client Authentication"))
        #expect(text.output.contains("CA:FALSE"))
        #expect(text.output.contains("X509v3 Key Usage: critical\n                Digital Signature\n"))
        #expect(text.output.contains("X509v3 Authority Key Identifier"))
        #expect(text.output.contains("X509v3 Subject Key Identifier"))
    }

    @Test func clientCertificatesAreOnlyForClientAuthentication() throws {
        let ca = try CertificateAuthority.create(directory: caDirectory)
        let identity = try ca.certify(name: "site-1", role: .envoy, directory: temporary.appending("site-1"))
        #expect(identity.certificate.extendedKeyUsage == [.clientAuth])
        #expect(identity.certificate.subjectAlternativeNames.isEmpty)
        #expect(identity.certificate.role == .envoy)
        let asClient = try OpenSSLCommand.run(["verify", "-CAfile", ca.certificatePath, "-purpose", "sslclient", identity.certificatePath])
        #expect(asClient.succeeded, "\(asClient.output) \(asClient.errors)")
        let asServer = try OpenSSLCommand.run(["verify", "-CAfile", ca.certificatePath, "-purpose", "sslserver", identity.certificatePath])
        #expect(!asServer.succeeded, "a client certificate must not serve TLS: \(asServer.output)")
    }

    @Test(arguments: CertificateRole.allCases)
    func everyRoleTravelsInItsCertificate(_ role: CertificateRole) throws {
        let ca = try CertificateAuthority.create(directory: caDirectory)
        let identity = try ca.certify(name: "holder", role: role, directory: temporary.appending("holder"))
        let reloaded = try Certificate.load(path: identity.certificatePath)
        #expect(reloaded.role == role)
        #expect(reloaded.extendedKeyUsage == (role.acceptsConnections ? [.serverAuth, .clientAuth] : [.clientAuth]))
        let text = try OpenSSLCommand.run(["x509", "-noout", "-text", "-in", identity.certificatePath])
        #expect(text.output.contains("URI:urn:swiftfl:role:\(role.rawValue)"), "\(text.output)")
        #expect(CertificateRole(uri: role.uri) == role)
    }

    @Test func rolesAreNamedAndUnknownOnesExplained() throws {
        #expect(try CertificateRole.named("envoy") == .envoy)
        #expect(CertificateRole(uri: "urn:swiftfl:role:root") == nil)
        #expect(CertificateRole(uri: "https://example.org/envoy") == nil)
        let old = #expect(throws: PKIError.self) { try CertificateRole.named("client") }
        #expect(old?.description.contains("'client' is now envoy, user or admin") == true)
        #expect(CertificateRole.list([.admin, .envoy, .user]) == "envoy, user or admin")
        #expect(CertificateRole.list([.envoy]) == "envoy")
    }

    @Test func serverWithoutHostsIsNamedByItsCommonName() throws {
        let ca = try CertificateAuthority.create(directory: caDirectory)
        let certificate = try ca.sign(CertificateRequest(name: "director", key: PrivateKey.generate()), role: .aggregator)
        #expect(certificate.subjectAlternativeNames == [.dnsName("director")])
    }

    @Test func fingerprintMatchesOpenSSL() throws {
        let ca = try CertificateAuthority.create(directory: caDirectory)
        let identity = try ca.certify(name: "collaborator.one", hosts: ["localhost"], role: .envoy, directory: temporary.appending("c1"))
        for (path, fingerprint) in [(identity.certificatePath, identity.fingerprint), (ca.certificatePath, ca.certificate.fingerprint)] {
            let result = try OpenSSLCommand.run(["x509", "-noout", "-fingerprint", "-sha256", "-in", path])
            #expect(result.succeeded, "\(result.errors)")
            // `sha256 Fingerprint=AB:CD:…` (the prefix's case differs between OpenSSL versions).
            let printed = try #require(result.output.split(separator: "=", maxSplits: 1).last).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(printed == fingerprint)
            #expect(fingerprint.count == 32 * 3 - 1)
        }
    }

    @Test func certifyWritesTheParticipantLayout() throws {
        let ca = try CertificateAuthority.create(directory: caDirectory)
        let directory = temporary.appending("participants/site-2")
        let identity = try ca.certify(name: "site-2", hosts: ["127.0.0.1"], role: .aggregator, directory: directory)
        let tls = TLSConfiguration(certificateDirectory: directory, name: "site-2")
        #expect(tls.certificatePath == identity.certificatePath)
        #expect(tls.privateKeyPath == identity.keyPath)
        #expect(tls.caCertificatePath == identity.authorityCertificatePath)
        #expect(try mode(identity.keyPath) == 0o600)
        #expect(try Certificate.load(path: tls.caCertificatePath).fingerprint == ca.certificate.fingerprint)
        // The files make a working TLS context.
        _ = try TLSContext(tls, side: .server)
        let verify = try OpenSSLCommand.run(["verify", "-CAfile", tls.caCertificatePath, tls.certificatePath])
        #expect(verify.succeeded, "\(verify.output) \(verify.errors)")
        // A second certify for the same name would orphan the first key: refused unless asked for.
        let again = #expect(throws: PKIError.self) { try ca.certify(name: "site-2", role: .aggregator, directory: directory) }
        #expect(again?.kind == .alreadyExists)
        let renewed = try ca.certify(name: "site-2", role: .aggregator, directory: directory, replaceExisting: true)
        #expect(renewed.fingerprint != identity.fingerprint)
    }

    @Test func certifyIntoTheCADirectoryKeepsTheCACertificate() throws {
        let ca = try CertificateAuthority.create(directory: caDirectory)
        let identity = try ca.certify(name: "local", role: .envoy, directory: caDirectory)
        #expect(identity.authorityCertificatePath == ca.certificatePath)
        #expect(try CertificateAuthority.load(directory: caDirectory).certificate.fingerprint == ca.certificate.fingerprint)
    }

    @Test func validityIsExactAndControllable() throws {
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        let ca = try CertificateAuthority.create(directory: caDirectory, validity: Validity(notBefore: start, notAfter: Date().addingTimeInterval(86_400 * 3650)))
        let end = Date(timeIntervalSince1970: 1_700_086_400)
        let certificate = try ca.sign(CertificateRequest(name: "old", key: PrivateKey.generate()), role: .envoy,
                                      validity: Validity(notBefore: start, notAfter: end))
        #expect(certificate.notBefore == start)
        #expect(certificate.notAfter == end)
        #expect(!certificate.isValid())
        let path = temporary.appending("old.crt")
        try certificate.write(to: path)
        let verify = try OpenSSLCommand.run(["verify", "-CAfile", ca.certificatePath, path])
        #expect(!verify.succeeded)
        #expect((verify.output + verify.errors).contains("expired"))
        let verifyThen = try OpenSSLCommand.run(["verify", "-attime", "1700040000", "-CAfile", ca.certificatePath, path])
        #expect(verifyThen.succeeded, "valid on the day it was issued for: \(verifyThen.output) \(verifyThen.errors)")

        let backwards = #expect(throws: PKIError.self) {
            try ca.sign(CertificateRequest(name: "x", key: PrivateKey.generate()), role: .envoy, validity: Validity(notBefore: end, notAfter: start))
        }
        #expect(backwards?.kind == .invalidValidity)
        let outlivesCA = #expect(throws: PKIError.self) {
            try ca.sign(CertificateRequest(name: "x", key: PrivateKey.generate()), role: .envoy, validity: .days(365 * 20))
        }
        #expect(outlivesCA?.kind == .invalidValidity)
    }

    @Test func signsRequestsMadeByOpenSSL() throws {
        let ca = try CertificateAuthority.create(directory: caDirectory)
        let key = temporary.appending("ext.key")
        let csr = temporary.appending("ext.csr")
        let made = try OpenSSLCommand.run(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                           "-subj", "/O=Elsewhere/CN=external-site", "-addext", "subjectAltName=DNS:site.example,IP:192.168.0.7",
                                           "-keyout", key, "-out", csr])
        try #require(made.succeeded, "\(made.errors)")
        let issued = try ca.sign(requestPath: csr, role: .aggregator)
        #expect(issued.path == temporary.appending("external-site.crt"))
        #expect(issued.certificate.subjectAlternativeNames == [.dnsName("site.example"), .ipAddress("192.168.0.7")])
        #expect(issued.certificate.role == .aggregator)
        // Only the common name is carried over from the request's subject.
        let subject = try OpenSSLCommand.run(["x509", "-noout", "-subject", "-in", issued.path])
        #expect(subject.output.trimmingCharacters(in: .whitespacesAndNewlines) == "subject=CN = external-site")
        let verify = try OpenSSLCommand.run(["verify", "-CAfile", ca.certificatePath, issued.path])
        #expect(verify.succeeded, "\(verify.output) \(verify.errors)")
        #expect(issued.certificate.matches(try PrivateKey.load(path: key)))
    }

    @Test func refusesRequestsForNamesItDoesNotIssue() throws {
        _ = try CertificateAuthority.create(directory: caDirectory)
        func opensslRequest(_ file: String, _ arguments: [String]) throws -> String {
            let path = temporary.appending(file)
            let made = try OpenSSLCommand.run(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                               "-keyout", temporary.appending("\(file).key"), "-out", path] + arguments)
            try #require(made.succeeded, "\(made.errors)")
            return path
        }
        let ca = try CertificateAuthority.load(directory: caDirectory)
        let spaced = try opensslRequest("spaced.csr", ["-subj", "/CN=bad name"])
        let badName = #expect(throws: PKIError.self) { try ca.sign(requestPath: spaced, role: .envoy) }
        #expect(badName?.kind == .invalidName)
        #expect(badName?.path == spaced)
        #expect(badName?.description.contains("'bad name'") == true)

        let email = try opensslRequest("email.csr", ["-subj", "/CN=site", "-addext", "subjectAltName=email:a@b.example"])
        let unsupported = #expect(throws: PKIError.self) { try ca.sign(requestPath: email, role: .envoy) }
        #expect(unsupported?.kind == .unsupported)

        // A request cannot choose its own role: the operator does, when signing.
        let asking = try opensslRequest("role.csr", ["-subj", "/CN=site", "-addext", "subjectAltName=URI:urn:swiftfl:role:admin"])
        let role = #expect(throws: PKIError.self) { try ca.sign(requestPath: asking, role: .envoy) }
        #expect(role?.kind == .unsupported)
        #expect(role?.description.contains("URI urn:swiftfl:role:admin") == true)

        let noName = try opensslRequest("nocn.csr", ["-subj", "/O=Nobody"])
        let missing = #expect(throws: PKIError.self) { try ca.sign(requestPath: noName, role: .envoy) }
        #expect(missing?.kind == .malformed)
        #expect(!FileManager.default.fileExists(atPath: temporary.appending("site.crt")))
    }

    @Test func refusesWeakKeys() throws {
        let ca = try CertificateAuthority.create(directory: caDirectory)
        let path = temporary.appending("weak.csr")
        let made = try OpenSSLCommand.run(["req", "-new", "-newkey", "rsa:1024", "-nodes", "-subj", "/CN=weak",
                                           "-keyout", temporary.appending("weak.key"), "-out", path])
        try #require(made.succeeded, "\(made.errors)")
        let error = #expect(throws: PKIError.self) { try ca.sign(requestPath: path, role: .envoy) }
        #expect(error?.kind == .weakKey)
    }

    @Test func loadChecksTheKeyBelongsToTheCertificate() throws {
        _ = try CertificateAuthority.create(directory: caDirectory)
        let other = temporary.appending("other")
        _ = try CertificateAuthority.create(directory: other)
        try FileManager.default.removeItem(atPath: "\(caDirectory)/ca.key")
        try FileManager.default.copyItem(atPath: "\(other)/ca.key", toPath: "\(caDirectory)/ca.key")
        let error = #expect(throws: PKIError.self) { try CertificateAuthority.load(directory: caDirectory) }
        #expect(error?.kind == .keyMismatch)
        #expect(error?.path == "\(caDirectory)/ca.key")

        let missing = #expect(throws: PKIError.self) { try CertificateAuthority.load(directory: temporary.appending("nowhere")) }
        #expect(missing?.kind == .notFound)
        #expect(missing?.description.contains("nowhere/ca.crt") == true)
    }

    @Test func aLeafCertificateIsNotACA() throws {
        let ca = try CertificateAuthority.create(directory: caDirectory)
        let leafDirectory = temporary.appending("leaf")
        _ = try ca.certify(name: "leaf", role: .aggregator, directory: leafDirectory)
        try FileManager.default.moveItem(atPath: "\(leafDirectory)/leaf.crt", toPath: "\(leafDirectory)/ca.crt.new")
        try FileManager.default.removeItem(atPath: "\(leafDirectory)/ca.crt")
        try FileManager.default.moveItem(atPath: "\(leafDirectory)/ca.crt.new", toPath: "\(leafDirectory)/ca.crt")
        try FileManager.default.moveItem(atPath: "\(leafDirectory)/leaf.key", toPath: "\(leafDirectory)/ca.key")
        let error = #expect(throws: PKIError.self) { try CertificateAuthority.load(directory: leafDirectory) }
        #expect(error?.kind == .malformed)
        #expect(error?.description.contains("CA:TRUE") == true)
    }

    @Test func refusesBadCANames() throws {
        for name in ["", "a/b", "tab\there", String(repeating: "x", count: 65)] {
            let error = #expect(throws: PKIError.self) { try CertificateAuthority.create(directory: caDirectory, commonName: name) }
            #expect(error?.kind == .invalidName)
        }
        #expect(!FileManager.default.fileExists(atPath: caDirectory))
    }

    @Test func isFast() throws {
        let start = Deadline.now
        let ca = try CertificateAuthority.create(directory: caDirectory)
        for name in ["a", "b"] { _ = try ca.certify(name: name, role: .aggregator, directory: temporary.appending(name)) }
        let seconds = start.elapsedSeconds
        // ~3 ms in release on these machines; a generous bound for a debug build on a loaded machine.
        #expect(seconds < 1, "CA and two certificates took \(seconds) s")
    }
}
