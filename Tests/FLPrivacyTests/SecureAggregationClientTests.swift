import Testing
import FLCore
import FLPrivacy

/// What a site refuses from the server: doctored rosters, envelopes not meant for it, claims about
/// survivors that would reveal too much, stages out of order.
@Suite struct SecureAggregationClientTests {
    @Test func refusesBadParametersAndNames() throws {
        let harness = try SecureAggregationHarness(sites: 2, threshold: 2, length: 1)
        expectError(.protocolViolation, stage: .setup) { _ = try harness.client("site-1", parameters: .init(threshold: 1, clipRange: 1)) }
        expectError(.protocolViolation, stage: .setup) { _ = try harness.client("", identity: harness.identities["site-1"]) }
    }

    @Test func refusesDoctoredRosters() throws {
        let harness = try SecureAggregationHarness(sites: 4, threshold: 3, length: 4)
        let roster = harness.sites.map { harness.clients[$0]!.advertisement }
        let client = harness.clients["site-1"]!
        expectError(.protocolViolation, sites: ["site-1"], stage: .shareKeys) { _ = try client.shareKeys(roster: Array(roster.dropFirst())) }
        var altered = roster
        altered[0].maskingKey = roster[1].maskingKey
        expectError(.protocolViolation, sites: ["site-1"], stage: .shareKeys) { _ = try client.shareKeys(roster: altered) }
        altered = roster
        altered[3].encryptionKey = roster[2].maskingKey
        expectError(.protocolViolation, sites: ["site-3", "site-4"], stage: .shareKeys) { _ = try client.shareKeys(roster: altered) }
        expectError(.protocolViolation, sites: ["site-2"], stage: .shareKeys) { _ = try client.shareKeys(roster: roster + [roster[1]]) }
        altered = roster
        altered[2].encryptionKey = [1, 2, 3]
        expectError(.protocolViolation, sites: ["site-3"], stage: .shareKeys) { _ = try client.shareKeys(roster: altered) }
        expectError(.belowThreshold, stage: .shareKeys) { _ = try client.shareKeys(roster: Array(roster.prefix(2))) }
        expectError(.protocolViolation, stage: .maskInput) { _ = try client.maskInput([1, 1, 1, 1], received: []) }
        expectError(.protocolViolation, stage: .reveal) { _ = try client.reveal(survivors: harness.sites, dropped: []) }
        // Nothing above changed the client: the honest roster still works, once.
        let envelopes = try client.shareKeys(roster: roster)
        #expect(envelopes.map(\.to) == ["site-2", "site-3", "site-4"])
        #expect(envelopes.allSatisfy { $0.from == "site-1" && $0.commitment.count == 128 })
        expectError(.protocolViolation, stage: .shareKeys) { _ = try client.shareKeys(roster: roster) }
    }

    /// Stage 1 done for every site; returns the clients and every envelope by recipient.
    private func sharedRound(sites: Int = 4, threshold: Int = 3, round: SecureAggregationRound = .init(experiment: "exp", round: 3, attempt: 0)) throws -> (SecureAggregationHarness, [String: [ShareEnvelope]]) {
        let harness = try SecureAggregationHarness(sites: sites, threshold: threshold, length: 4, round: round)
        let roster = harness.sites.map { harness.clients[$0]!.advertisement }
        var inbox: [String: [ShareEnvelope]] = [:]
        for site in harness.sites {
            for envelope in try harness.clients[site]!.shareKeys(roster: roster) { inbox[envelope.to, default: []].append(envelope) }
        }
        return (harness, inbox)
    }

    @Test func refusesEnvelopesNotMeantForIt() throws {
        let (harness, inbox) = try sharedRound()
        let client = harness.clients["site-1"]!
        let mine = inbox["site-1"]!
        expectError(.protocolViolation, sites: ["site-1"], stage: .maskInput) { _ = try client.maskInput([1, 1, 1, 1], received: mine + [inbox["site-2"]![0]]) }
        expectError(.protocolViolation, sites: ["site-2"], stage: .maskInput) { _ = try client.maskInput([1, 1, 1, 1], received: mine + [mine[0]]) }
        var readdressed = inbox["site-2"]!.first { $0.from == "site-3" }!
        readdressed.to = "site-1"
        expectError(.crypto, sites: ["site-3"], stage: .maskInput) {
            _ = try client.maskInput([1, 1, 1, 1], received: mine.filter { $0.from != "site-3" } + [readdressed])
        }
        var tampered = mine
        tampered[1].ciphertext[20] ^= 1
        expectError(.crypto, sites: [tampered[1].from], stage: .maskInput) { _ = try client.maskInput([1, 1, 1, 1], received: tampered) }
        tampered = mine
        tampered[0].commitment[3] ^= 1
        expectError(.crypto, sites: [tampered[0].from], stage: .maskInput) { _ = try client.maskInput([1, 1, 1, 1], received: tampered) }
        expectError(.belowThreshold, sites: ["site-3", "site-4"], stage: .maskInput) { _ = try client.maskInput([1, 1, 1, 1], received: Array(mine.prefix(1))) }
        #expect(try client.maskInput([1, 2, 3, 4], received: mine).count == 4)
    }

    /// Envelopes sealed in another round, attempt or experiment do not open, even between the same sites.
    @Test(arguments: [
        SecureAggregationRound(experiment: "exp", round: 3, attempt: 1),
        SecureAggregationRound(experiment: "exp", round: 2, attempt: 0),
        SecureAggregationRound(experiment: "exp2", round: 3, attempt: 0),
    ])
    func refusesEnvelopesFromAnotherRound(other: SecureAggregationRound) throws {
        let (harness, _) = try sharedRound()
        let (_, foreign) = try sharedRound(round: other)
        let client = harness.clients["site-1"]!
        expectError(.crypto, stage: .maskInput) { _ = try client.maskInput([1, 1, 1, 1], received: foreign["site-1"]!) }
    }

    @Test func refusesClaimsThatAreNotAPartitionOfTheSharers() throws {
        let (harness, inbox) = try sharedRound(sites: 5, threshold: 3)
        let client = harness.clients["site-1"]!
        _ = try client.maskInput([7, 7, 7, 7], received: inbox["site-1"]!)
        let all = harness.sites
        expectError(.protocolViolation, sites: ["site-2"], stage: .reveal) { _ = try client.reveal(survivors: all, dropped: ["site-2"]) }
        expectError(.protocolViolation, sites: ["site-5"], stage: .reveal) { _ = try client.reveal(survivors: Array(all.prefix(4)), dropped: []) }
        expectError(.protocolViolation, sites: ["mallory"], stage: .reveal) { _ = try client.reveal(survivors: all + ["mallory"], dropped: []) }
        expectError(.protocolViolation, sites: ["site-3"], stage: .reveal) { _ = try client.reveal(survivors: all + ["site-3"], dropped: []) }
        expectError(.belowThreshold, stage: .reveal) { _ = try client.reveal(survivors: ["site-1", "site-2"], dropped: ["site-3", "site-4", "site-5"]) }
        expectError(.protocolViolation, sites: ["site-1"], stage: .reveal) { _ = try client.reveal(survivors: ["site-2", "site-3", "site-4"], dropped: ["site-1", "site-5"]) }
        let shares = try client.reveal(survivors: ["site-1", "site-2", "site-4"], dropped: ["site-3", "site-5"])
        #expect(shares.map(\.owner) == ["site-1", "site-2", "site-4", "site-3", "site-5"])
        #expect(shares.map(\.kind) == [.selfMaskSeed, .selfMaskSeed, .selfMaskSeed, .maskingKey, .maskingKey])
        #expect(Set(shares.map(\.owner)).count == shares.count)
    }

    /// With 2t ≤ |roster| a server could tell half the sites "u survived" and the other half "u
    /// dropped" and get enough shares of both of u's secrets: the client refuses such a roster.
    @Test func refusesARosterTwiceTheThreshold() throws {
        let harness = try SecureAggregationHarness(sites: 4, threshold: 2, length: 1)
        let roster = harness.sites.map { harness.clients[$0]!.advertisement }
        expectError(.protocolViolation, sites: harness.sites, stage: .shareKeys) { _ = try harness.clients["site-1"]!.shareKeys(roster: roster) }
        #expect(try harness.clients["site-1"]!.shareKeys(roster: Array(roster.prefix(3))).count == 2)
    }

    @Test func errorsNameTheStageAndTheSites() {
        let error = SecureAggregationError(kind: .belowThreshold, sites: ["b", "a"], message: "2 of 5 sites shared keys, 3 needed", stage: .shareKeys)
        #expect(error.sites == ["a", "b"])
        #expect(error.description == "secure aggregation, stage 'share keys': 2 of 5 sites shared keys, 3 needed (sites: a, b)")
    }
}

/// Each stage of a client runs once: a server asking a site again (a copy of the client is the
/// same client) learns nothing more.
@Suite struct SecureAggregationClientOnceTests {
    @Test func revealAnswersOneClaimOnly() throws {
        var harness = try SecureAggregationHarness(sites: 5, threshold: 3, length: 2)
        var generator = SplitMix64(state: 4)
        let members = try harness.shareKeys(harness.advertise())
        _ = try harness.maskInputs(members, inputs: harness.randomInputs(using: &generator))
        let client = harness.clients["site-1"]!
        let first = try client.reveal(survivors: harness.sites, dropped: [])
        // A lost reply: the same claim (in any order) gets the same shares.
        #expect(try client.reveal(survivors: harness.sites.reversed(), dropped: []) == first)
        // "site-5 dropped" after "site-5 survived" would hand over a share of its s_sk beside b.
        let copy = client
        #expect {
            _ = try copy.reveal(survivors: Array(harness.sites.prefix(4)), dropped: ["site-5"])
        } throws: { error in
            let error = error as? SecureAggregationError
            return error?.kind == .protocolViolation && error?.sites == ["site-5"] && error?.stage == .reveal
        }
        #expect(try client.reveal(survivors: harness.sites, dropped: []) == first)
    }

    @Test func shareKeysAndMaskInputRunOnce() throws {
        let harness = try SecureAggregationHarness(sites: 3, threshold: 2, length: 2)
        let roster = harness.sites.map { harness.clients[$0]!.advertisement }
        var inbox: [String: [ShareEnvelope]] = [:]
        for site in harness.sites {
            for envelope in try harness.clients[site]!.shareKeys(roster: roster) { inbox[envelope.to, default: []].append(envelope) }
        }
        let client = harness.clients["site-1"]!
        #expect(throws: SecureAggregationError.self) { _ = try client.shareKeys(roster: roster) }
        _ = try client.maskInput([1, 2], received: inbox["site-1"]!)
        // A second masked input would give the server y − y′ = x − x′ (the masks are the same).
        #expect(throws: SecureAggregationError.self) { _ = try client.maskInput([3, 4], received: inbox["site-1"]!) }
    }
}

/// A site checks its own input before masking it: a wrong length or a value above L would spoil
/// the sum of every site (it could wrap).
@Suite struct SecureAggregationClientInputTests {
    @Test func refusesInputsOfTheWrongLengthOrRange() throws {
        let harness = try SecureAggregationHarness(sites: 3, threshold: 2, bits: 16, length: 3)
        let roster = harness.sites.map { harness.clients[$0]!.advertisement }
        var inbox: [String: [ShareEnvelope]] = [:]
        for site in harness.sites {
            for envelope in try harness.clients[site]!.shareKeys(roster: roster) { inbox[envelope.to, default: []].append(envelope) }
        }
        let client = harness.clients["site-1"]!, mine = inbox["site-1"]!
        let levels = try SecureAggregationEncoding(parameters: harness.parameters, cohortSize: 3).levels
        for bad: [UInt32] in [[1, 2], [1, 2, 3, 4], [], [levels + 1, 0, 0], [0, 0, 65_536], [0, UInt32.max, 0]] {
            #expect {
                _ = try client.maskInput(bad, received: mine)
            } throws: { error in
                let error = error as? SecureAggregationError
                return error?.kind == .protocolViolation && error?.sites == ["site-1"] && error?.stage == .maskInput
            }
        }
        #expect(try client.maskInput([levels, 0, 1], received: mine).count == 3)
    }
}
