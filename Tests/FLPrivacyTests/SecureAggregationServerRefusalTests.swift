import Testing
import FLCore
import FLPrivacy

/// What the server refuses: stages below the threshold, bad shares, strangers, second submissions.
@Suite struct SecureAggregationServerRefusalTests {
    private func inputs(_ harness: SecureAggregationHarness) -> [String: [UInt32]] {
        var generator = SplitMix64(state: 9)
        return harness.randomInputs(using: &generator)
    }

    @Test func eachStageFailsCleanlyBelowTheThreshold() throws {
        var harness = try SecureAggregationHarness(sites: 5, threshold: 3, length: 16)
        expectError(.belowThreshold, sites: ["site-3", "site-4", "site-5"], stage: .advertise) {
            _ = try harness.advertise(absent: ["site-3", "site-4", "site-5"])
        }
        harness = try SecureAggregationHarness(sites: 5, threshold: 3, length: 16)
        let roster = try harness.advertise()
        expectError(.belowThreshold, sites: ["site-1", "site-2", "site-5"], stage: .shareKeys) {
            _ = try harness.shareKeys(roster, absent: ["site-1", "site-2", "site-5"])
        }
        harness = try SecureAggregationHarness(sites: 5, threshold: 3, length: 16)
        let members = try harness.shareKeys(harness.advertise())
        let data = inputs(harness)
        expectError(.belowThreshold, sites: ["site-2", "site-3", "site-4"], stage: .maskInput) {
            _ = try harness.maskInputs(members, inputs: data, absent: ["site-2", "site-3", "site-4"])
        }
        harness = try SecureAggregationHarness(sites: 5, threshold: 3, length: 16)
        let (survivors, dropped) = try harness.maskInputs(harness.shareKeys(harness.advertise()), inputs: data)
        expectError(.belowThreshold, sites: ["site-1", "site-4", "site-5"], stage: .unmask) {
            _ = try harness.reveal(survivors: survivors, dropped: dropped, absent: ["site-1", "site-4", "site-5"])
        }
    }

    /// The server's initializer cannot throw, so parameters that cannot work are refused when the
    /// first stage closes.
    @Test func refusesParametersThatCannotWork() throws {
        let round = SecureAggregationRound(experiment: "e", round: 1, attempt: 0)
        var server = SecureAggregationServer(round: round, parameters: .init(threshold: 1, clipRange: 1), cohort: ["a", "b"], vectorLength: 1)
        expectError(.protocolViolation, stage: .advertise) { _ = try server.closeAdvertisements() }
    }

    /// A threshold of half the cohort or less is refused: two halves told different stories
    /// about who survived could each unmask.
    @Test func refusesAThresholdOfHalfTheCohort() throws {
        var harness = try SecureAggregationHarness(sites: 4, threshold: 2, length: 1)
        expectError(.protocolViolation, stage: .advertise) { _ = try harness.advertise() }
    }

    /// A stage closed too early stays open: more arrivals, then closing again, go on.
    @Test func aStageClosedBelowTheThresholdStaysOpen() throws {
        var harness = try SecureAggregationHarness(sites: 4, threshold: 3, length: 4)
        for site in ["site-1", "site-2"] { try harness.server.receiveAdvertisement(harness.clients[site]!.advertisement, from: site) }
        expectError(.belowThreshold, sites: ["site-3", "site-4"]) { _ = try harness.server.closeAdvertisements() }
        try harness.server.receiveAdvertisement(harness.clients["site-3"]!.advertisement, from: "site-3")
        #expect(try harness.server.closeAdvertisements().map(\.site) == ["site-1", "site-2", "site-3"])
    }

    /// A revealed share that does not open its commitment names its revealer and is left out; the
    /// sum is still right from the good shares.
    @Test(arguments: [RevealedShare.Kind.selfMaskSeed, .maskingKey])
    func aTamperedShareNamesItsRevealer(kind: RevealedShare.Kind) throws {
        var harness = try SecureAggregationHarness(sites: 5, threshold: 3, length: 64)
        let data = inputs(harness)
        let members = try harness.shareKeys(harness.advertise())
        let (survivors, dropped) = try harness.maskInputs(members, inputs: data, absent: ["site-5"])
        let result = try harness.reveal(survivors: survivors, dropped: dropped) { site, shares in
            guard site == "site-2" else { return shares }
            return shares.map { share in
                var share = share
                if share.kind == kind { share.share[20] ^= 0x40 }
                return share
            }
        }
        #expect(result.badShares == ["site-2"])
        #expect(result.sum == harness.plainSum(data, of: survivors))
    }

    /// A wrong salt is as bad as a wrong share: the commitment is over both.
    @Test func aWrongSaltNamesItsRevealer() throws {
        var harness = try SecureAggregationHarness(sites: 4, threshold: 3, length: 8)
        let data = inputs(harness)
        let (survivors, dropped) = try harness.maskInputs(harness.shareKeys(harness.advertise()), inputs: data)
        let result = try harness.reveal(survivors: survivors, dropped: dropped) { site, shares in
            site == "site-4" ? shares.map { RevealedShare(owner: $0.owner, kind: $0.kind, share: $0.share, salt: [UInt8](repeating: 0, count: 32)) } : shares
        }
        #expect(result.badShares == ["site-4"])
        #expect(result.sum == harness.plainSum(data, of: survivors))
    }

    /// With too few good shares left, unmasking refuses with .badShare naming the bad revealers.
    @Test func tooFewGoodSharesNameTheBadRevealers() throws {
        var harness = try SecureAggregationHarness(sites: 5, threshold: 3, length: 8)
        let (survivors, dropped) = try harness.maskInputs(harness.shareKeys(harness.advertise()), inputs: inputs(harness))
        expectError(.badShare, sites: ["site-2"], stage: .unmask) {
            _ = try harness.reveal(survivors: survivors, dropped: dropped, absent: ["site-4", "site-5"]) { site, shares in
                site == "site-2" ? shares.map { var s = $0; s.share[9] ^= 1; return s } : shares
            }
        }
    }

    /// Shares revealed in another round (same sites, same names) fail this round's commitments.
    @Test(arguments: [
        SecureAggregationRound(experiment: "exp", round: 3, attempt: 1),
        SecureAggregationRound(experiment: "exp", round: 4, attempt: 0),
        SecureAggregationRound(experiment: "other", round: 3, attempt: 0),
    ])
    func sharesFromAnotherRoundAreBad(other: SecureAggregationRound) throws {
        var first = try SecureAggregationHarness(sites: 4, threshold: 3, length: 8)
        var second = try SecureAggregationHarness(sites: 4, threshold: 3, length: 8, round: other)
        let data = inputs(first)
        let a = try first.maskInputs(first.shareKeys(first.advertise()), inputs: data)
        let b = try second.maskInputs(second.shareKeys(second.advertise()), inputs: data)
        let replayed = try first.clients["site-1"]!.reveal(survivors: a.survivors, dropped: a.dropped)
        let result = try second.reveal(survivors: b.survivors, dropped: b.dropped) { site, shares in site == "site-1" ? replayed : shares }
        #expect(result.badShares == ["site-1"])
        #expect(result.sum == second.plainSum(data, of: b.survivors))
    }

    @Test func refusesStrangersSecondSubmissionsAndMalformedParts() throws {
        var harness = try SecureAggregationHarness(sites: 4, threshold: 3, length: 8)
        let stranger = try harness.client("mallory")
        let one = harness.clients["site-1"]!.advertisement
        expectError(.protocolViolation, sites: ["mallory"], stage: .advertise) { try harness.server.receiveAdvertisement(stranger.advertisement, from: "mallory") }
        expectError(.protocolViolation, sites: ["site-2"], stage: .advertise) { try harness.server.receiveAdvertisement(one, from: "site-2") }
        var short = harness.clients["site-2"]!.advertisement
        short.maskingKey.removeLast()
        expectError(.protocolViolation, sites: ["site-2"], stage: .advertise) { try harness.server.receiveAdvertisement(short, from: "site-2") }
        try harness.server.receiveAdvertisement(one, from: "site-1")
        expectError(.protocolViolation, sites: ["site-1"], stage: .advertise) { try harness.server.receiveAdvertisement(one, from: "site-1") }
        expectError(.protocolViolation, stage: .shareKeys) { try harness.server.receiveShares([], from: "site-1") }
        for site in ["site-2", "site-3"] { try harness.server.receiveAdvertisement(harness.clients[site]!.advertisement, from: site) }
        let roster = try harness.server.closeAdvertisements()
        expectError(.protocolViolation, stage: .advertise) { try harness.server.receiveAdvertisement(harness.clients["site-4"]!.advertisement, from: "site-4") }
        #expect(harness.server.envelopes(for: "site-2").isEmpty)

        var envelopes: [String: [ShareEnvelope]] = [:]
        for site in ["site-1", "site-2", "site-3"] { envelopes[site] = try harness.clients[site]!.shareKeys(roster: roster) }
        expectError(.protocolViolation, sites: ["site-4"], stage: .shareKeys) { try harness.server.receiveShares(envelopes["site-1"]!, from: "site-4") }
        expectError(.protocolViolation, sites: ["site-2"], stage: .shareKeys) { try harness.server.receiveShares(envelopes["site-1"]!, from: "site-2") }
        expectError(.protocolViolation, sites: ["site-1"], stage: .shareKeys) { try harness.server.receiveShares(Array(envelopes["site-1"]!.prefix(1)), from: "site-1") }
        var inconsistent = envelopes["site-1"]!
        inconsistent[0].commitment[95] ^= 1
        expectError(.protocolViolation, sites: ["site-1"], stage: .shareKeys) { try harness.server.receiveShares(inconsistent, from: "site-1") }
        for site in ["site-1", "site-2", "site-3"] { try harness.server.receiveShares(envelopes[site]!, from: site) }
        expectError(.protocolViolation, sites: ["site-3"], stage: .shareKeys) { try harness.server.receiveShares(envelopes["site-3"]!, from: "site-3") }
        let members = try harness.server.closeShares()
        #expect(harness.server.envelopes(for: "site-2").map(\.from) == ["site-1", "site-3"])

        let data = inputs(harness)
        var masked: [String: [UInt32]] = [:]
        for site in members { masked[site] = try harness.clients[site]!.maskInput(data[site]!, received: harness.server.envelopes(for: site)) }
        func send(_ values: [UInt32], from site: String) throws { try values.withUnsafeBufferPointer { try harness.server.receiveMaskedInput($0, from: site) } }
        expectError(.protocolViolation, sites: ["site-4"], stage: .maskInput) { try send(masked["site-1"]!, from: "site-4") }
        expectError(.protocolViolation, sites: ["site-1"], stage: .maskInput) { try send(Array(masked["site-1"]!.dropLast()), from: "site-1") }
        for site in members { try send(masked[site]!, from: site) }
        expectError(.protocolViolation, sites: ["site-2"], stage: .maskInput) { try send(masked["site-2"]!, from: "site-2") }
        let (survivors, dropped) = try harness.server.closeMaskedInputs()

        let shares = try harness.clients["site-1"]!.reveal(survivors: survivors, dropped: dropped)
        expectError(.protocolViolation, sites: ["site-4"], stage: .reveal) { try harness.server.receiveReveal(shares, from: "site-4") }
        expectError(.protocolViolation, sites: ["site-1"], stage: .reveal) { try harness.server.receiveReveal(Array(shares.dropLast()), from: "site-1") }
        let both = shares + [RevealedShare(owner: "site-2", kind: .maskingKey, share: shares[1].share, salt: shares[1].salt)]
        expectError(.protocolViolation, sites: ["site-1"], stage: .reveal) { try harness.server.receiveReveal(both, from: "site-1") }
        try harness.server.receiveReveal(shares, from: "site-1")
        expectError(.protocolViolation, sites: ["site-1"], stage: .reveal) { try harness.server.receiveReveal(shares, from: "site-1") }
        #expect(harness.server.revealsReceived == 1)
        #expect(harness.server.revealingSites == ["site-1"])
        #expect(harness.server.maskedSites == members)
        #expect(harness.server.sharingSites == members)
        #expect(harness.server.advertisedSites == ["site-1", "site-2", "site-3"])
        for site in ["site-2", "site-3"] { try harness.server.receiveReveal(harness.clients[site]!.reveal(survivors: survivors, dropped: dropped), from: site) }
        #expect(try harness.server.unmask().sum == harness.plainSum(data, of: survivors))
        expectError(.protocolViolation, stage: .unmask) { _ = try harness.server.unmask() }
    }
}
