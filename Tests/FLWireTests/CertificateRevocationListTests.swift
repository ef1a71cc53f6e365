#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import FLCore
import FLTesting
@testable import FLWire

/// The CA's records and revocation list on disk, judged by the OpenSSL command-line tool.
@Suite struct CertificateRevocationListTests {
    let temporary: TemporaryDirectory
    var caDirectory: String { temporary.appending("ca") }

    init() throws { temporary = try TemporaryDirectory(prefix: "crl-tests") }

    @Test func aNewCAHasAnEmptySignedList() throws {
        let ca = try CertificateAuthority.create(directory: caDirectory, commonName: "Federation CA")
        #expect(ca.revocationListPath == "\(caDirectory)/crl.pem")
        let list = try CertificateRevocationList.load(path: ca.revocationListPath)
        #expect(list.entries.isEmpty)
        #expect(list.isSigned(by: ca.certificate))
        #expect(list.issuerCommonName == "Federation CA")
        // Valid as long as the CA is: the list travels as a file and is never fetched afresh.
        #expect(list.nextUpdate == ca.certificate.notAfter)
        #expect(list.lastUpdate <= Date().addingTimeInterval(-Validity.clockSkewAllowance + 5))
        let text = try OpenSSLCommand.run(["crl", "-noout", "-text", "-in", ca.revocationListPath])
        #expect(text.succeeded, "\(text.errors)")
        #expect(text.output.contains("Version 2"), "\(text.output)")
        #expect(text.output.contains("No Revoked Certificates"), "\(text.output)")
        #expect(text.output.contains("X509v3 CRL Number"), "\(text.output)")
        #expect(text.output.contains("X509v3 Authority Key Identifier"), "\(text.output)")
        let signature = try OpenSSLCommand.run(["crl", "-noout", "-in", ca.revocationListPath, "-CAfile", ca.certificatePath])
        #expect(signature.succeeded && signature.errors.contains("verify OK"), "\(signature.output) \(signature.errors)")
    }

    @Test func everySignedCertificateIsRecorded() throws {
        let ca = try CertificateAuthority.create(directory: caDirectory)
        let site = try ca.certify(name: "site-a", role: .envoy, directory: temporary.appending("site-a"))
        let request = try CertificateRequest(name: "aggregator", key: PrivateKey.generate())
        let aggregator = try ca.sign(request, role: .aggregator)
        let records = try ca.issuedRecords()
        #expect(records.map(\.commonName) == ["site-a", "aggregator"])
        #expect(records.map(\.serialNumber) == [site.certificate.serialNumber, aggregator.serialNumber])
        #expect(records.map(\.role) == ["envoy", "aggregator"])
        #expect(records[0].fingerprint == site.certificate.fingerprint)
        #expect(abs(records[0].notAfter.timeIntervalSince(site.certificate.notAfter)) < 1)
        // A person can read it: one JSON object a line.
        let text = try String(contentsOfFile: ca.issuedRecordPath, encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 2)
        let first = try PlanNode.parseJSON(Array(lines[0].utf8))
        #expect(first.node(at: "name") == PlanNode(.string("site-a")), "\(lines[0])")
        #expect(first.node(at: "serial") == PlanNode(.string(site.certificate.serialNumber)), "\(lines[0])")
    }

    @Test func revokingByNameListsEveryUnexpiredCertificateOfThatName() throws {
        let ca = try CertificateAuthority.create(directory: caDirectory)
        let now = Date()
        let first = try ca.certify(name: "site-a", role: .envoy, directory: temporary.appending("a1"))
        let second = try ca.certify(name: "site-a", role: .envoy, directory: temporary.appending("a2"), replaceExisting: true)
        let expired = try ca.sign(CertificateRequest(name: "site-a", key: PrivateKey.generate()), role: .envoy,
                                  validity: Validity(notBefore: now.addingTimeInterval(-7200), notAfter: now.addingTimeInterval(-3600)))
        let other = try ca.certify(name: "site-b", role: .envoy, directory: temporary.appending("b"))

        let outcome = try ca.revoke(name: "site-a")
        #expect(Set(outcome.revoked.map(\.serialNumber)) == [first.certificate.serialNumber, second.certificate.serialNumber])
        #expect(outcome.alreadyRevoked.isEmpty)
        #expect(outcome.revocationListPath == ca.revocationListPath)
        let list = try CertificateRevocationList.load(path: ca.revocationListPath)
        #expect(list.revokedSerialNumbers == [first.certificate.serialNumber, second.certificate.serialNumber])
        #expect(!list.isRevoked(serialNumber: expired.serialNumber), "an expired certificate needs no listing")
        #expect(!list.isRevoked(serialNumber: other.certificate.serialNumber))

        // The serial shows where an operator looks, and OpenSSL refuses the revoked certificate only.
        let text = try OpenSSLCommand.run(["crl", "-noout", "-text", "-in", ca.revocationListPath])
        #expect(text.output.contains("Serial Number: \(first.certificate.serialNumber)"), "\(text.output)")
        #expect(text.output.contains("Serial Number: \(second.certificate.serialNumber)"), "\(text.output)")
        let refused = try OpenSSLCommand.run(["verify", "-crl_check", "-CAfile", ca.certificatePath, "-CRLfile", ca.revocationListPath,
                                              first.certificatePath])
        #expect(!refused.succeeded)
        #expect((refused.output + refused.errors).contains("certificate revoked"), "\(refused.output) \(refused.errors)")
        let accepted = try OpenSSLCommand.run(["verify", "-crl_check", "-CAfile", ca.certificatePath, "-CRLfile", ca.revocationListPath,
                                               other.certificatePath])
        #expect(accepted.succeeded, "\(accepted.output) \(accepted.errors)")

        // Again: nothing new, and the list still holds both.
        let again = try ca.revoke(name: "site-a")
        #expect(again.revoked.isEmpty && again.alreadyRevoked.count == 2)
        #expect(try CertificateRevocationList.load(path: ca.revocationListPath).entries.count == 2)
        #expect(try ca.revocations().map(\.commonName) == ["site-a", "site-a"])
    }

    @Test func revokingANameNeverIssuedNamesTheCADirectory() throws {
        let ca = try CertificateAuthority.create(directory: caDirectory)
        let error = #expect(throws: PKIError.self) { try ca.revoke(name: "nobody") }
        #expect(error?.kind == .notFound)
        #expect(error?.path == caDirectory)
        #expect(error?.description.contains("no certificate issued for 'nobody'") == true, "\(error.map { "\($0)" } ?? "")")
        #expect(error?.description.contains("--cert FILE") == true)
    }

    @Test func revokingByFileWorksForCertificatesIssuedBeforeRecordsWereKept() throws {
        let ca = try CertificateAuthority.create(directory: caDirectory)
        let old = try ca.certify(name: "site-old", role: .envoy, directory: temporary.appending("old"))
        // As if the certificate had been signed by a SwiftFL that kept no records.
        try FileManager.default.removeItem(atPath: ca.issuedRecordPath)
        #expect(throws: PKIError.self) { try ca.revoke(name: "site-old") }
        let outcome = try ca.revoke(certificateFile: old.certificatePath)
        #expect(outcome.revoked.map(\.serialNumber) == [old.certificate.serialNumber])
        #expect(outcome.revoked.first?.fingerprint == old.certificate.fingerprint)
        #expect(try CertificateRevocationList.load(path: ca.revocationListPath).isRevoked(serialNumber: old.certificate.serialNumber))
        let refused = try OpenSSLCommand.run(["verify", "-crl_check", "-CAfile", ca.certificatePath, "-CRLfile", ca.revocationListPath,
                                              old.certificatePath])
        #expect(!refused.succeeded)
    }

    @Test func revokingByFileRefusesOtherCAsCertificatesAndItself() throws {
        let ca = try CertificateAuthority.create(directory: caDirectory)
        let stranger = try TestPKI(commonName: "Another CA")
        let foreign = try stranger.issueIdentity(name: "site-a")
        let error = #expect(throws: PKIError.self) { try ca.revoke(certificateFile: foreign.certificatePath) }
        #expect(error?.kind == .badSignature)
        #expect(error?.path == foreign.certificatePath)
        #expect(error?.description.contains("expected a certificate issued by the CA in \(caDirectory)") == true)
        let itself = #expect(throws: PKIError.self) { try ca.revoke(certificateFile: ca.certificatePath) }
        #expect(itself?.kind == .unsupported)
        #expect(try CertificateRevocationList.load(path: ca.revocationListPath).entries.isEmpty)
    }

    @Test func revocationsSurviveReloadingTheCA() throws {
        let ca = try CertificateAuthority.create(directory: caDirectory)
        let a = try ca.certify(name: "site-a", role: .envoy, directory: temporary.appending("a"))
        let b = try ca.certify(name: "site-b", role: .envoy, directory: temporary.appending("b"))
        try ca.revoke(name: "site-a")
        let reloaded = try CertificateAuthority.load(directory: caDirectory)
        try reloaded.revoke(certificateFile: b.certificatePath)
        let list = try CertificateRevocationList.load(path: ca.revocationListPath)
        #expect(list.revokedSerialNumbers == [a.certificate.serialNumber, b.certificate.serialNumber])
        // A lost list is signed again from the records, by hand or when the CA is next loaded.
        try FileManager.default.removeItem(atPath: ca.revocationListPath)
        let again = try reloaded.updateRevocationList()
        #expect(again.revokedSerialNumbers == list.revokedSerialNumbers)
        #expect(try CertificateRevocationList.load(path: ca.revocationListPath).isSigned(by: ca.certificate))
        try FileManager.default.removeItem(atPath: ca.revocationListPath)
        _ = try CertificateAuthority.load(directory: caDirectory)
        #expect(try CertificateRevocationList.load(path: ca.revocationListPath).revokedSerialNumbers == list.revokedSerialNumbers)
    }

    @Test func loadingRefusesWhatIsNotAList() throws {
        let ca = try CertificateAuthority.create(directory: caDirectory)
        let error = #expect(throws: PKIError.self) { try CertificateRevocationList.load(path: ca.certificatePath) }
        #expect(error?.kind == .malformed)
        #expect(error?.description.contains("-----BEGIN X509 CRL-----") == true)
        let missing = #expect(throws: PKIError.self) { try CertificateRevocationList.load(path: temporary.appending("none.pem")) }
        #expect(missing?.kind == .notFound)
        // Signed by another CA: parses, but is not this CA's.
        let stranger = try TestPKI(commonName: "Another CA")
        let foreign = try CertificateRevocationList.load(path: stranger.authority.revocationListPath)
        #expect(!foreign.isSigned(by: ca.certificate))
        #expect(foreign.isSigned(by: stranger.authority.certificate))
    }
}
