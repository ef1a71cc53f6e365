import Testing
import FLCore
@testable import FLPrivacy

/// A malicious site cannot get an honest one blamed: a share its recipient accepts is a share the
/// server accepts when it is revealed, because both run the same check.
@Suite struct SecureAggregationBlameTests {
    /// site-2 seals for site-1 a payload whose shares do open commitments, but over a salt of
    /// 33 bytes (the server's check wants 32).
    private func oversizedSaltEnvelope(_ harness: SecureAggregationHarness, saltCount: Int, shareValues: Int = 5) throws -> ShareEnvelope {
        let sender = harness.clients["site-2"]!, recipient = harness.clients["site-1"]!
        let share = ShamirShare(x: 1, values: (1...UInt64(shareValues)).map { $0 }).bytes
        let payload = EnvelopePayload(selfMaskShare: share, selfMaskSalt: [UInt8](repeating: 7, count: saltCount),
                                      maskingKeyShare: share, maskingKeySalt: [UInt8](repeating: 8, count: saltCount))
        let commitment = payload.commitments + ShareCommitment.commit(share: share, salt: [UInt8](repeating: 9, count: 32))
        let key = try ProtocolKeys.envelopeKey(sender.encryptionPair, peer: recipient.advertisement.encryptionKey, context: sender.context,
                                               from: "site-2", to: "site-1")
        let aad = ProtocolKeys.envelopeAAD(context: sender.context, from: "site-2", to: "site-1", commitment: commitment)
        return ShareEnvelope(from: "site-2", to: "site-1", ciphertext: try AESGCM.seal(payload.bytes, key: key, aad: aad), commitment: commitment)
    }

    @Test(arguments: [(33, 5), (31, 5), (32, 6)])
    func aRecipientRefusesSharesTheServerWouldRefuse(saltCount: Int, shareValues: Int) throws {
        let harness = try SecureAggregationHarness(sites: 3, threshold: 2, length: 1)
        let roster = harness.sites.map { harness.clients[$0]!.advertisement }
        var inbox: [String: [ShareEnvelope]] = [:]
        for site in harness.sites {
            for envelope in try harness.clients[site]!.shareKeys(roster: roster) { inbox[envelope.to, default: []].append(envelope) }
        }
        let forged = try oversizedSaltEnvelope(harness, saltCount: saltCount, shareValues: shareValues)
        let received = inbox["site-1"]!.filter { $0.from != "site-2" } + [forged]
        #expect {
            _ = try harness.clients["site-1"]!.maskInput([1], received: received)
        } throws: { error in
            let error = error as? SecureAggregationError
            return error?.kind == .protocolViolation && error?.sites == ["site-2"] && error?.stage == .maskInput
        }
        // The server's check says the same of the forged shares.
        let payload = EnvelopePayload(selfMaskShare: ShamirShare(x: 1, values: (1...UInt64(shareValues)).map { $0 }).bytes,
                                      selfMaskSalt: [UInt8](repeating: 7, count: saltCount), maskingKeyShare: [], maskingKeySalt: [])
        #expect(ShareCommitment.open(forged.commitment[0..<32], share: payload.selfMaskShare, salt: payload.selfMaskSalt,
                                     position: 1, sharing: ShamirSecretSharing(threshold: 2)) == nil)
    }

    @Test func payloadsOfTheWrongSizesDoNotParse() {
        let share = ShamirShare(x: 1, values: [1, 2, 3, 4, 5]).bytes
        let good = EnvelopePayload(selfMaskShare: share, selfMaskSalt: .init(repeating: 1, count: 32), maskingKeyShare: share, maskingKeySalt: .init(repeating: 2, count: 32))
        #expect(EnvelopePayload(bytes: good.bytes) == good)
        var long = good
        long.maskingKeySalt.append(0)
        #expect(EnvelopePayload(bytes: long.bytes) == nil)
        var short = good
        short.selfMaskShare.removeLast()
        #expect(EnvelopePayload(bytes: short.bytes) == nil)
    }
}

/// An owner that deals shares of another self-mask seed than the one it masks with is named when
/// the seed rebuilt from its shares does not open its commitment to b (or the shares do not combine).
@Suite struct SecureAggregationDealerBlameTests {
    /// Runs a round in which site-2 deals shares of `other` (a fresh seed) instead of its b; its
    /// own share is of b unless `consistent`, in which case it is of `other` as well.
    private func roundWithCheatingDealer(consistent: Bool) throws -> SecureAggregationError? {
        var harness = try SecureAggregationHarness(sites: 4, threshold: 3, length: 4)
        let roster = try harness.advertise()
        for site in harness.sites {
            let client = harness.clients[site]!
            var envelopes = try client.shareKeys(roster: roster)
            if site == "site-2" {
                let dealt = try client.deal(SecureRandom.bytes(32), to: roster)
                envelopes = dealt.envelopes
                if consistent { client.progress.withLock { $0.ownShares = dealt.own } }
            }
            try harness.server.receiveShares(envelopes, from: site)
        }
        let members = try harness.server.closeShares()
        var generator = SplitMix64(state: 11)
        let (survivors, dropped) = try harness.maskInputs(members, inputs: harness.randomInputs(using: &generator))
        do {
            _ = try harness.reveal(survivors: survivors, dropped: dropped)
            return nil
        } catch let error as SecureAggregationError {
            return error
        }
    }

    @Test(arguments: [true, false])
    func theDealerIsNamed(consistent: Bool) throws {
        let error = try roundWithCheatingDealer(consistent: consistent)
        #expect(error?.sites == ["site-2"], "\(error.map(String.init(describing:)) ?? "no error")")
        #expect(error?.kind == .protocolViolation && error?.stage == .unmask)
    }
}
