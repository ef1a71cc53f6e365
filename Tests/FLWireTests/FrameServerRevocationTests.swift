#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import FLCore
import FLTesting
@testable import FLWire

/// A running server whose revocation list changes under it: no restart, new connections of a revoked
/// certificate refused, open ones closed, everyone else untouched.
@Suite struct FrameServerRevocationTests {
    @Test func aCertificateRevokedWhileTheServerRunsIsRefusedAndItsConnectionClosed() throws {
        let pki = try TestPKI()
        let fixture = try ServerFixture(pki: pki) { $0.tls.revocationListPath = pki.authority.revocationListPath }
        let mallory = try pki.issueIdentity(name: "site-1")
        let honest = try fixture.connect(pki.issue(name: "site-2"))
        defer { honest.close() }
        let established = try fixture.connect(mallory.configuration)
        defer { established.close() }
        try established.call(Ping(), timeout: 5)
        try honest.call(Ping(), timeout: 5)

        // The operator revokes site-1 and the list on disk changes (here the CA writes it in place).
        try pki.authority.revoke(name: "site-1")

        // The open connection is closed within about a second, with a line naming the peer and serial.
        let closing = fixture.expectLogged("closed the connection of site-1 (envoy, 127.0.0.1")
        #expect(closing?.message.contains("its certificate (serial \(mallory.certificate.serialNumber)) has been revoked") == true,
                "\(closing?.message ?? "")")
        #expect(closing?.fields["serial"] == mallory.certificate.serialNumber)
        #expect(closing?.level == .warning)
        #expect(throws: (any Error).self) { try established.call(Ping(), timeout: 5) }

        // A new connection with the revoked certificate fails its handshake.
        let again = try fixture.connect(mallory.configuration)
        defer { again.close() }
        let error = #expect(throws: (any Error).self) { try again.call(Ping(), timeout: 5) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("TLS alert 'certificate revoked'"), "\(error.map { "\($0)" } ?? "")")
        let refused = fixture.expectLogged("certificate verification: certificate revoked")
        #expect(refused?.message.hasPrefix("refused connection from 127.0.0.1:") == true, "\(refused?.message ?? "")")

        // Everyone else carries on.
        try honest.call(Ping(), timeout: 5)
        try fixture.expectServes("site-3")
    }

    @Test func aClientRefusesARevokedServer() throws {
        let pki = try TestPKI()
        let fixture = try ServerFixture(pki: pki)
        var tls = try pki.issue(name: "site-1")
        tls.revocationListPath = pki.authority.revocationListPath
        let context = try TLSContext(tls, side: .client)
        // Before: served. After the server's certificate is revoked: the same context refuses it.
        let before = try FrameClient.connect(host: "127.0.0.1", port: fixture.server.port, context: context, timeout: 5)
        try before.call(Ping(), timeout: 5)
        before.close()
        try pki.authority.revoke(name: "aggregator")
        let error = #expect(throws: TLSError.self) {
            try FrameClient.connect(host: "127.0.0.1", port: fixture.server.port, context: context, timeout: 5)
        }
        guard case let .handshake(peer, reason)? = error else {
            Issue.record("expected a handshake error, got \(String(describing: error))")
            return
        }
        #expect(peer == "127.0.0.1:\(fixture.server.port)")
        #expect(reason.contains("certificate revoked"), "\(reason)")
    }

    @Test func aServerRefusesToStartWithAListItCannotTrust() throws {
        let pki = try TestPKI()
        let stranger = try TestPKI(commonName: "Another CA")
        let error = #expect(throws: TLSError.self) {
            _ = try ServerFixture(pki: pki) { $0.tls.revocationListPath = stranger.authority.revocationListPath }
        }
        #expect("\(error.map { "\($0)" } ?? "")".contains(stranger.authority.revocationListPath))
    }
}
