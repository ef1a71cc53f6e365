import Foundation
import Testing
import FLPKI
import FLTesting
@testable import FLPrivacy

/// A server relaying the advertisements cannot put keys of its own in a site's name: each is
/// signed with the site's envoy certificate from the federation's CA, bound to the round and the
/// parameters, and a client refuses any roster entry that is not, naming the site.
@Suite struct SecureAggregationAuthenticationTests {
    private func expectRefusal(naming site: String, _ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            try body()
            Issue.record("expected a refusal naming \(site)", sourceLocation: sourceLocation)
        } catch let error as SecureAggregationError {
            #expect(error.kind == .protocolViolation && error.sites == [site], "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
        }
    }

    /// `advertisement` signed by `identity` in `context`, as a site (or a thief of its key) would.
    private func signed(_ advertisement: KeyAdvertisement, by identity: SecureAggregationIdentity, _ context: ProtocolContext) throws -> KeyAdvertisement {
        var out = advertisement
        out.certificate = identity.certificate.der
        out.signature = try identity.key.sign(out.signedBytes(context))
        return out
    }

    @Test func anHonestRosterIsSignedAndAccepted() throws {
        var harness = try SecureAggregationHarness(sites: 3, threshold: 2, length: 2)
        let roster = try harness.advertise()
        #expect(roster.allSatisfy { !$0.signature.isEmpty && (try? Certificate(der: $0.certificate))?.commonName == $0.site })
        #expect(try harness.shareKeys(roster) == harness.sites)
    }

    @Test func refusesAKeyTheServerSwappedIn() throws {
        let harness = try SecureAggregationHarness(sites: 4, threshold: 3, length: 2)
        let roster = harness.sites.map { harness.clients[$0]!.advertisement }
        let context = ProtocolContext(round: harness.round, parameters: harness.parameters)
        let client = harness.clients["site-1"]!
        let servers = try X25519KeyPair.generate()
        // The swap alone: the signature no longer covers the keys.
        var swapped = roster
        swapped[1].encryptionKey = servers.publicKey
        expectRefusal(naming: "site-2") { _ = try client.shareKeys(roster: swapped) }
        // Re-signed with a certificate for site-2 from another CA.
        let otherCA = try TestPKI()
        swapped[1] = try signed(swapped[1], by: harness.identity("site-2", authority: otherCA.authority), context)
        expectRefusal(naming: "site-2") { _ = try client.shareKeys(roster: swapped) }
        // Re-signed with another site's genuine certificate (the server colluding with site-3).
        swapped[1] = try signed(swapped[1], by: harness.identities["site-3"]!, context)
        expectRefusal(naming: "site-2") { _ = try client.shareKeys(roster: swapped) }
        // Re-signed with a certificate of this CA naming site-2 but not for an envoy.
        swapped[1] = try signed(swapped[1], by: harness.identity("site-2", role: .aggregator), context)
        expectRefusal(naming: "site-2") { _ = try client.shareKeys(roster: swapped) }
        // Re-signed with an expired envoy certificate for site-2.
        let past = Validity(notBefore: Date(timeIntervalSinceNow: -7200), notAfter: Date(timeIntervalSinceNow: -3600))
        swapped[1] = try signed(swapped[1], by: harness.identity("site-2", validity: past), context)
        expectRefusal(naming: "site-2") { _ = try client.shareKeys(roster: swapped) }
        // Without a certificate at all.
        swapped[1] = KeyAdvertisement(site: "site-2", encryptionKey: servers.publicKey, maskingKey: roster[1].maskingKey)
        expectRefusal(naming: "site-2") { _ = try client.shareKeys(roster: swapped) }
        #expect(try client.shareKeys(roster: roster).count == 3)
    }

    /// An advertisement signed for another attempt (or other parameters) does not count in this one.
    @Test func refusesAnAdvertisementFromAnotherInstance() throws {
        let harness = try SecureAggregationHarness(sites: 3, threshold: 2, length: 2)
        let replayed = try harness.client("site-2", round: SecureAggregationRound(experiment: "exp", round: 3, attempt: 1)).advertisement
        let otherTerms = try harness.client("site-2", parameters: SecureAggregationParameters(threshold: 2, clipRange: 2, bits: 32)).advertisement
        for foreign in [replayed, otherTerms] {
            var roster = harness.sites.map { harness.clients[$0]!.advertisement }
            roster[1] = foreign
            expectRefusal(naming: "site-2") { _ = try harness.clients["site-1"]!.shareKeys(roster: roster) }
        }
    }

    /// A server that told site-3 another weight scale (to shrink its weight, or everyone else's):
    /// site-3's advertisement is signed for other terms, so the others refuse it, and it them.
    @Test func sitesToldOtherTermsRefuseEachOther() throws {
        var harness = try SecureAggregationHarness(sites: 4, threshold: 3, length: 2,
                                                   round: SecureAggregationRound(experiment: "exp", round: 3, attempt: 0, weightScale: 1000))
        var told = harness.round
        told.weightScale = 1
        harness.clients["site-3"] = try harness.client("site-3", round: told)
        let roster = harness.sites.map { harness.clients[$0]!.advertisement }
        expectRefusal(naming: "site-3") { _ = try harness.clients["site-1"]!.shareKeys(roster: roster) }
        expectRefusal(naming: "site-1") { _ = try harness.clients["site-3"]!.shareKeys(roster: roster) }
        // The server, holding the honest terms, refuses it too.
        #expect(throws: SecureAggregationError.self) { try harness.server.receiveAdvertisement(roster[2], from: "site-3") }
    }

    /// A site advertising a key of small order (its own, signed) would make every pairwise seed
    /// with it public: the server refuses it at intake, and a client in a roster, naming the site.
    @Test(arguments: X25519KeyPairTests.refusedPublicKeys)
    func refusesSmallOrderAndNonCanonicalKeysNamingTheSite(key: String) throws {
        var harness = try SecureAggregationHarness(sites: 3, threshold: 2, length: 2)
        let context = ProtocolContext(round: harness.round, parameters: harness.parameters)
        var bad = harness.clients["site-2"]!.advertisement
        bad.maskingKey = hex(key)
        bad = try signed(bad, by: harness.identities["site-2"]!, context)
        #expect {
            try harness.server.receiveAdvertisement(bad, from: "site-2")
        } throws: { ($0 as? SecureAggregationError)?.sites == ["site-2"] }
        var roster = harness.sites.map { harness.clients[$0]!.advertisement }
        roster[1] = bad
        expectRefusal(naming: "site-2") { _ = try harness.clients["site-1"]!.shareKeys(roster: roster) }
    }

    /// The server's cohort and vector length must be the round's agreed ones.
    @Test func theServerRefusesTermsThatContradictItsOwn() throws {
        for round in [SecureAggregationRound(experiment: "e", round: 1, attempt: 0, cohortSize: 4, vectorLength: 2),
                      SecureAggregationRound(experiment: "e", round: 1, attempt: 0, cohortSize: 3, vectorLength: 5),
                      SecureAggregationRound(experiment: "e", round: 1, attempt: 0, weightScale: 0)] {
            var server = SecureAggregationServer(round: round, parameters: .init(threshold: 2, clipRange: 1), cohort: ["a", "b", "c"], vectorLength: 2)
            #expect(throws: SecureAggregationError.self) { _ = try server.closeAdvertisements() }
        }
    }

    @Test func theServerRefusesAnAdvertisementItsSitesWouldRefuse() throws {
        var harness = try SecureAggregationHarness(sites: 3, threshold: 2, length: 2)
        var forged = harness.clients["site-2"]!.advertisement
        forged.maskingKey = try X25519KeyPair.generate().publicKey
        #expect(throws: SecureAggregationError.self) { try harness.server.receiveAdvertisement(forged, from: "site-2") }
        let otherCA = try TestPKI()
        let stranger = try harness.client("site-2", identity: harness.identity("site-2", authority: otherCA.authority)).advertisement
        #expect(throws: SecureAggregationError.self) { try harness.server.receiveAdvertisement(stranger, from: "site-2") }
        // Without a CA the server still checks the signature against the certificate carried.
        var open = SecureAggregationServer(round: harness.round, parameters: harness.parameters, cohort: harness.sites, vectorLength: 2)
        #expect(throws: SecureAggregationError.self) { try open.receiveAdvertisement(forged, from: "site-2") }
        try open.receiveAdvertisement(harness.clients["site-2"]!.advertisement, from: "site-2")
        try harness.server.receiveAdvertisement(harness.clients["site-2"]!.advertisement, from: "site-2")
    }

    @Test func refusesAnIdentityThatIsNotTheSites() throws {
        let harness = try SecureAggregationHarness(sites: 2, threshold: 2, length: 1)
        #expect(throws: SecureAggregationError.self) { _ = try harness.client("site-1", identity: harness.identities["site-2"]) }
        #expect(throws: SecureAggregationError.self) { _ = try harness.client("site-1", identity: harness.identity("site-1", role: .aggregator)) }
        let mismatched = SecureAggregationIdentity(certificate: harness.identities["site-1"]!.certificate, key: try PrivateKey.generate())
        #expect(throws: SecureAggregationError.self) { _ = try harness.client("site-1", identity: mismatched) }
    }
}
