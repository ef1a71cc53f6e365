#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import FLCore
import FLRoles
import FLTesting
@testable import FLWire
import FLPKI

/// Each way of knocking on a real aggregator process without belonging: every one is refused and
/// logged, and the honest hospitals then train to the end on the same aggregator.
@Suite(.serialized) struct SecurityMatrixTests {
    let fixture: FederationFixture
    let aggregator: ProcessUnderTest
    let port: Int
    let hospitals = ["hospital_a", "hospital_b", "hospital_c"]

    init() throws {
        fixture = try FederationFixture(template: "breast_cancer", collaborators: hospitals)
        try fixture.initialize()
        (aggregator, port) = try fixture.startAggregator()
    }

    /// A TLS configuration for `name` signed by the federation's CA, valid from `from` to `to`.
    func identity(_ name: String, from: Date = Date().addingTimeInterval(-3600), to: Date = Date().addingTimeInterval(86_400)) throws -> TLSConfiguration {
        let key = try PrivateKey.generate()
        let certificate = try fixture.authority.sign(CertificateRequest(name: name, key: key), role: .envoy,
                                                     validity: Validity(notBefore: from, notAfter: to))
        let base = fixture.directory.appending("\(name)-\(UUID().uuidString.prefix(6))")
        try key.write(to: "\(base).key")
        try certificate.write(to: "\(base).crt")
        return TLSConfiguration(caCertificatePath: fixture.authority.certificatePath, certificatePath: "\(base).crt", privateKeyPath: "\(base).key")
    }

    func client(_ tls: TLSConfiguration, presentsCertificate: Bool = true) throws -> FrameClient {
        try FrameClient.connect(host: "127.0.0.1", port: port, context: TLSContext(tls, side: .client, presentsCertificate: presentsCertificate),
                                timeout: 5, idleTimeout: 5)
    }

    /// The client's first request fails, and the aggregator logs a refusal that `logged` recognises.
    func expectRefused(_ tls: TLSConfiguration, presentsCertificate: Bool = true, as claimed: String? = nil,
                       logged: @escaping (String) -> Bool, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let error = #expect(throws: (any Error).self, sourceLocation: sourceLocation) {
            let c = try client(tls, presentsCertificate: presentsCertificate)
            defer { c.close() }
            try c.call(CollaboratorHello(collaborator: claimed ?? "hospital_a", experiment: "experiment"), timeout: 5)
        }
        #expect(error != nil, sourceLocation: sourceLocation)
        #expect(throws: Never.self, sourceLocation: sourceLocation) { try aggregator.waitForErrorLine(timeout: 10, where: logged) }
    }

    /// Opens a plain TCP connection, sends `bytes`, and waits until the server closes it.
    func sendRaw(_ bytes: [UInt8]) throws {
        let fd = try Socket.connect(host: "127.0.0.1", port: port, deadline: .after(seconds: 5))
        defer { close(fd) }
        var fds = [pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)]
        _ = poll(&fds, 1, 5000)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var scratch = [UInt8](repeating: 0, count: 4096)
        let deadline = Deadline.after(seconds: 15)
        while !deadline.hasPassed {
            fds[0].events = Int16(POLLIN)
            guard poll(&fds, 1, deadline.pollTimeout) > 0 else { break }
            if scratch.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, $0.count, 0) }) <= 0 { return }
        }
        Issue.record("the server kept a garbage connection open")
    }

    @Test func everyoneWhoDoesNotBelongIsRefusedAndTheHonestSitesTrain() throws {
        let now = Date()
        try expectRefused(identity("hospital_a"), presentsCertificate: false) {
            $0.contains("refused connection from") && $0.contains("certificate")
        }
        let strangerCA = try TestPKI(commonName: "Another CA")  // kept alive: its files live in its folder
        let stranger = try strangerCA.issueIdentity(name: "hospital_a")
        let otherCA = TLSConfiguration(caCertificatePath: fixture.authority.certificatePath, certificatePath: stranger.certificatePath,
                                       privateKeyPath: stranger.privateKeyPath)
        try expectRefused(otherCA) { $0.contains("refused connection from") && $0.contains("unable to get local issuer certificate") }
        try expectRefused(identity("hospital_a", from: now.addingTimeInterval(-7200), to: now.addingTimeInterval(-3600))) {
            $0.contains("refused connection from") && $0.contains("certificate has expired")
        }
        try expectRefused(identity("hospital_a", from: now.addingTimeInterval(3600), to: now.addingTimeInterval(7200))) {
            $0.contains("refused connection from") && $0.contains("certificate is not yet valid")
        }
        try expectRefused(identity("mallory")) { $0.contains("'mallory' is not allowed") }
        try expectRefused(identity("hospital_a"), as: "hospital_b") { $0.contains("says it is 'hospital_b' but its certificate names 'hospital_a'") }

        try sendRaw(Array("GET / HTTP/1.1\r\nHost: aggregator\r\n\r\n".utf8))
        try sendRaw((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) })
        try aggregator.waitForErrorLine(timeout: 10) { $0.contains("refused connection from") && $0.contains("http request") }
        try aggregator.waitForErrorLine(timeout: 10) { $0.contains("refused connection from") && $0.contains("wrong version number") }

        // An authenticated peer whose frame claims 100 GiB: that connection, and only it, is closed.
        let connection = try TLSConnection.connect(host: "127.0.0.1", port: port, context: TLSContext(identity("hospital_c"), side: .client), timeout: 5)
        defer { connection.close() }
        let header = FrameHeader(length: 100 << 30, type: CollaboratorHello.type.rawValue, id: 1).bytes
        try header.withUnsafeBytes { try connection.write($0, deadline: .after(seconds: 5)) }
        try aggregator.waitForErrorLine(timeout: 10) { $0.contains("hospital_c") && $0.contains("exceeds the limit") }

        // Through all of this the aggregator keeps serving: the hospitals train to the end.
        let sites = try hospitals.map { try fixture.startCollaborator($0, port: port) }
        #expect(try aggregator.waitForExit(timeout: 120).isSuccess, "\(aggregator.errorTail())")
        for site in sites { #expect(try site.waitForExit(timeout: 30).isSuccess, "\(site.name): \(site.errorTail())") }
        let finished = try #require(FederationFixture.events("finished", in: aggregator).first)
        #expect(finished["succeeded"] as? Bool == true)
    }
}
