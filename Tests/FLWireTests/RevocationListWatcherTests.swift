#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import FLCore
import FLTesting
@testable import FLWire

/// TLS contexts given a revocation list: what they accept as a list, how they follow changes to it,
/// and that both ends refuse a revoked peer.
@Suite struct RevocationListWatcherTests {
    /// `configuration` checking the CA's own revocation list.
    static func checking(_ configuration: TLSConfiguration, _ pki: TestPKI) -> TLSConfiguration {
        var checked = configuration
        checked.revocationListPath = pki.authority.revocationListPath
        return checked
    }

    @Test func aContextRefusesAListThatIsMissingOrNotTheCAs() throws {
        let pki = try TestPKI()
        var tls = try pki.issue(name: "aggregator", role: .aggregator)
        tls.revocationListPath = pki.directory.appending("missing-crl.pem")
        let missing = #expect(throws: TLSError.self) { try TLSContext(tls, side: .server) }
        #expect("\(missing.map { "\($0)" } ?? "")".contains("\(pki.directory.appending("missing-crl.pem")): cannot read the certificate revocation list"),
                "\(missing.map { "\($0)" } ?? "")")

        tls.revocationListPath = pki.caCertificatePath
        let notAList = #expect(throws: TLSError.self) { try TLSContext(tls, side: .client) }
        #expect("\(notAList.map { "\($0)" } ?? "")".contains("expected a PEM certificate revocation list"), "\(notAList.map { "\($0)" } ?? "")")

        let stranger = try TestPKI(commonName: "Another CA")
        tls.revocationListPath = stranger.authority.revocationListPath
        let foreign = #expect(throws: TLSError.self) { try TLSContext(tls, side: .server) }
        let text = "\(foreign.map { "\($0)" } ?? "")"
        #expect(text.contains(stranger.authority.revocationListPath) && text.contains("signed by the CA in \(pki.caCertificatePath)"), "\(text)")

        tls.revocationListPath = pki.authority.revocationListPath
        _ = try TLSContext(tls, side: .server)
    }

    @Test func followsTheFileAndKeepsTheLastGoodList() throws {
        let pki = try TestPKI()
        let site = try pki.issueIdentity(name: "site-1")
        let log = LogRecorder()
        let watcher = try RevocationListWatcher(path: pki.authority.revocationListPath, authorityPath: pki.caCertificatePath,
                                                logger: log.logger())
        let first = watcher.current()
        #expect(first.revokedSerialNumbers.isEmpty)
        #expect(watcher.current().generation == first.generation, "an unchanged file is not read again")

        try pki.authority.revoke(name: "site-1")
        let revoked = watcher.current()
        #expect(revoked.generation == first.generation + 1)
        #expect(revoked.revokedSerialNumbers == [site.certificate.serialNumber])
        #expect(log.lines.contains { $0.message.contains("reloaded the certificate revocation list") && $0.message.contains("1 revoked") })

        // Half a file (as a copy in progress would leave it): the last good list stays, reported once.
        let pem = try String(contentsOfFile: pki.authority.revocationListPath, encoding: .utf8)
        try String(pem.prefix(pem.count / 2)).write(toFile: pki.authority.revocationListPath, atomically: true, encoding: .utf8)
        for _ in 0..<5 {
            let kept = watcher.current()
            #expect(kept.generation == revoked.generation && kept.revokedSerialNumbers == revoked.revokedSerialNumbers)
        }
        let errors = log.lines.filter { $0.level == .error }
        #expect(errors.count == 1, "\(errors.map(\.message))")
        #expect(errors.first?.message.contains("still checking against the list loaded at") == true, "\(errors.map(\.message))")

        // Deleted: the same, reported once.
        try FileManager.default.removeItem(atPath: pki.authority.revocationListPath)
        for _ in 0..<3 { #expect(watcher.current().revokedSerialNumbers == revoked.revokedSerialNumbers) }
        #expect(log.lines.filter { $0.level == .error }.count == 2)

        // A good list again is taken at once.
        try pki.authority.updateRevocationList()
        let restored = watcher.current()
        #expect(restored.generation == revoked.generation + 1 && restored.revokedSerialNumbers == revoked.revokedSerialNumbers)
    }

    @Test func aServerRefusesARevokedClient() throws {
        let pki = try TestPKI()
        let server = Self.checking(try pki.issue(name: "aggregator", role: .aggregator), pki)
        let client = try pki.issueIdentity(name: "site-1")
        let before = try LoopbackTLS.handshake(server: server, client: client.configuration)
        #expect(throws: Never.self) { try before.server.get() }

        try pki.authority.revoke(certificate: client.certificate)
        let after = try LoopbackTLS.handshake(server: server, client: client.configuration)
        let error = #expect(throws: TLSError.self) { try after.server.get() }
        #expect("\(error.map { "\($0)" } ?? "")".contains("certificate verification: certificate revoked"), "\(error.map { "\($0)" } ?? "")")
        // TLS 1.3: the client hears of it on its first read, as an alert naming the reason.
        let connection = try after.client.get()
        let refusal = connection.firstReadError().map { "\($0)" } ?? ""
        #expect(refusal.contains("the peer refused this end's certificate (TLS alert 'certificate revoked')"), "\(refusal)")
    }

    @Test func aClientRefusesARevokedServer() throws {
        let pki = try TestPKI()
        let server = try pki.issueIdentity(name: "aggregator", role: .aggregator)
        let client = Self.checking(try pki.issue(name: "site-1"), pki)
        try pki.authority.revoke(name: "aggregator")
        let outcome = try LoopbackTLS.handshake(server: server.configuration, client: client)
        let error = #expect(throws: TLSError.self) { try outcome.client.get() }
        guard case let .handshake(_, reason)? = error else {
            Issue.record("expected a handshake error, got \(String(describing: error))")
            return
        }
        #expect(reason.contains("certificate revoked"), "\(reason)")
    }

    @Test func withoutAListNothingIsChecked() throws {
        let pki = try TestPKI()
        let client = try pki.issueIdentity(name: "site-1")
        try pki.authority.revoke(name: "site-1")
        let outcome = try LoopbackTLS.handshake(server: pki.issue(name: "aggregator", role: .aggregator), client: client.configuration)
        #expect(throws: Never.self) { try outcome.server.get() }
        #expect(try outcome.server.get().peerSerial == client.certificate.serialNumber)
    }
}
