import Foundation
import Testing
import FLTesting
@testable import FLWire

@Suite struct TLSConnectionTests {
    let pki: TestPKI
    init() throws { pki = try TestPKI() }

    private func describe(_ error: (any Error)?) -> String { error.map { "\($0)" } ?? "no error" }

    @Test func mutualHandshakeNamesEachSideAndSpeaksTLS13() throws {
        let outcome = try LoopbackTLS.handshake(server: pki.issue(name: "aggregator", role: .aggregator), client: pki.issue(name: "site-1"))
        let server = try outcome.server.get()
        let client = try outcome.client.get()
        #expect(server.peerName == "site-1")
        #expect(client.peerName == "aggregator")
        #expect(server.peerRole == .envoy)
        #expect(client.peerRole == .aggregator)
        #expect(server.protocolVersion == "TLSv1.3")
        #expect(client.protocolVersion == "TLSv1.3")
        #expect(client.cipherSuite == "TLS_AES_128_GCM_SHA256")
        try client.send("hello")
        #expect(try server.receive(count: 5) == "hello")
        try server.send("world!")
        #expect(try client.receive(count: 6) == "world!")
        client.close()
        var byte = [UInt8](repeating: 0, count: 1)
        #expect(try byte.withUnsafeMutableBytes { try server.read(into: $0, deadline: .after(seconds: 5)) } == 0, "clean end of stream")
    }

    @Test func clientDiallingByDNSName() throws {
        let outcome = try LoopbackTLS.handshake(server: pki.issue(name: "aggregator", role: .aggregator, hosts: ["localhost"]),
                                                client: pki.issue(name: "site-1"), host: "localhost")
        #expect(try outcome.client.get().peerName == "aggregator")
    }

    // MARK: The client refuses servers

    @Test func serverWhoseNameDoesNotMatchTheDialledIPIsRefused() throws {
        let outcome = try LoopbackTLS.handshake(server: pki.issue(name: "impostor", role: .aggregator, hosts: ["other.example"]),
                                                client: pki.issue(name: "site-1"))
        let error = #expect(throws: TLSError.self) { try outcome.client.get() }
        #expect(describe(error).contains("IP address mismatch"), "\(describe(error))")
        #expect(throws: (any Error).self) { try outcome.server.get() }
    }

    @Test func serverWhoseNameDoesNotMatchTheDialledHostIsRefused() throws {
        let outcome = try LoopbackTLS.handshake(server: pki.issue(name: "impostor", role: .aggregator, hosts: ["other.example"]),
                                                client: pki.issue(name: "site-1"), host: "localhost")
        let error = #expect(throws: TLSError.self) { try outcome.client.get() }
        #expect(describe(error).contains("hostname mismatch"), "\(describe(error))")
    }

    @Test func serverFromAnotherCAIsRefused() throws {
        let other = try pki.unrelatedAuthority()
        var server = try other.issue(name: "aggregator", role: .aggregator)
        server.caCertificatePath = pki.caCertificatePath
        let outcome = try LoopbackTLS.handshake(server: server, client: pki.issue(name: "site-1"))
        let error = #expect(throws: TLSError.self) { try outcome.client.get() }
        #expect(describe(error).contains("unable to get local issuer certificate"), "\(describe(error))")
    }

    @Test func expiredServerIsRefused() throws {
        let outcome = try LoopbackTLS.handshake(
            server: pki.issue(name: "aggregator", role: .aggregator, notBefore: Date().addingTimeInterval(-7200), notAfter: Date().addingTimeInterval(-3600)),
            client: pki.issue(name: "site-1"))
        let error = #expect(throws: TLSError.self) { try outcome.client.get() }
        #expect(describe(error).contains("certificate has expired"), "\(describe(error))")
    }

    @Test func serverWithAClientOnlyCertificateIsRefused() throws {
        let outcome = try LoopbackTLS.handshake(server: pki.issue(name: "aggregator", role: .envoy), client: pki.issue(name: "site-1"))
        let error = #expect(throws: TLSError.self) { try outcome.client.get() }
        #expect(describe(error).contains("unsuitable certificate purpose"), "\(describe(error))")
    }

    // MARK: The server refuses clients (TLS 1.3: the client learns on its first read)

    enum BadClient: String, CaseIterable, Sendable {
        case noCertificate, otherCA, expired, notYetValid
    }

    @Test(arguments: BadClient.allCases)
    func serverRefusesClient(_ kind: BadClient) throws {
        let now = Date()
        var presents = true
        let client: TLSConfiguration
        switch kind {
        case .noCertificate:
            client = try pki.issue(name: "site-1")
            presents = false
        case .otherCA:
            var c = try pki.unrelatedAuthority().issue(name: "site-1")
            c.caCertificatePath = pki.caCertificatePath
            client = c
        case .expired:
            client = try pki.issue(name: "site-1", notBefore: now.addingTimeInterval(-86_400), notAfter: now.addingTimeInterval(-3600))
        case .notYetValid:
            client = try pki.issue(name: "site-1", notBefore: now.addingTimeInterval(3600), notAfter: now.addingTimeInterval(86_400))
        }
        let outcome = try LoopbackTLS.handshake(server: pki.issue(name: "aggregator", role: .aggregator), client: client,
                                                clientPresentsCertificate: presents)
        let serverError = #expect(throws: TLSError.self) { try outcome.server.get() }
        let expectedOnServer = switch kind {
        case .noCertificate: "peer did not return a certificate"
        case .otherCA: "unable to get local issuer certificate"
        case .expired: "certificate has expired"
        case .notYetValid: "certificate is not yet valid"
        }
        #expect(describe(serverError).contains(expectedOnServer), "\(describe(serverError))")

        let connection = try outcome.client.get()
        let clientError = connection.firstReadError()
        let expectedOnClient = switch kind {
        case .noCertificate: "alert certificate required"
        case .otherCA: "alert unknown ca"
        case .expired: "alert certificate expired"
        case .notYetValid: "alert bad certificate"
        }
        #expect(describe(clientError).contains(expectedOnClient), "\(describe(clientError))")
    }
}
