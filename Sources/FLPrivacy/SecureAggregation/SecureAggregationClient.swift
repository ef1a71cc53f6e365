import Synchronization

/// One site's side of one round of SecAgg (Bonawitz et al., CCS 2017) on the complete graph.
/// Stages must be called in order; each checks what the server sent.
///
/// Fresh key pairs are made for every instance (round and attempt), so nothing learnt in one
/// round (a dropped site's masking key, say) unmasks another. The server relays messages but is
/// not trusted with inputs: each site's keys are signed with its envoy certificate (so the server
/// cannot substitute its own), bound to the round's terms (so it cannot give sites different
/// ones), and each site answers one claim of survivors per round with a threshold above half the
/// roster (so telling two groups different stories unmasks no one). It learns only sums of at
/// least `threshold` inputs. Bonawitz et al.'s consistency round (sites signing the survivor set
/// they were shown) is not part of this protocol; the majority threshold stands in for it.
///
/// A class, not a value: each stage runs once per instance (a copy would let a server ask the
/// same site twice, say for its share of b as a survivor and then of s_sk as dropped). A refused
/// call leaves the instance as it was.
public final class SecureAggregationClient: Sendable {
    enum Stage: Sendable { case advertised, sharedKeys, masked, revealed }

    /// What changes from stage to stage, behind `progress`'s lock.
    struct Progress: Sendable {
        var stage = Stage.advertised
        /// U1 by name.
        var roster: [String: KeyAdvertisement] = [:]
        /// This site's own shares of its own secrets (it reveals its share of b itself).
        var ownShares: EnvelopePayload?
        /// Shares of the other U2 members' secrets, by owner.
        var held: [String: EnvelopePayload] = [:]
        /// U2, sorted.
        var members: [String] = []
        /// The server's claim answered in stage 3 (both sorted) and the answer.
        var claim: (survivors: [String], dropped: [String])?
        var answer: [RevealedShare] = []
    }

    public let site: String
    public let round: SecureAggregationRound
    public let parameters: SecureAggregationParameters
    let trust: SecureAggregationTrust
    let context: ProtocolContext
    let encryptionPair: X25519KeyPair
    let maskingPair: X25519KeyPair
    /// b: the seed of this site's self mask.
    let selfMaskSeed: [UInt8]
    let progress = Mutex(Progress())

    /// A fresh instance for `site` in `round`: new key pairs and self-mask seed from OpenSSL's
    /// generator, the advertisement signed with `identity` (the site's envoy certificate and key).
    /// `trust` decides which peers' advertisements to believe. Refuses parameters that cannot work
    /// and an identity that is not `site`'s.
    public init(site: String, round: SecureAggregationRound, parameters: SecureAggregationParameters,
                identity: SecureAggregationIdentity, trust: SecureAggregationTrust) throws(SecureAggregationError) {
        if let problem = parameters.problem ?? round.problem { throw SecureAggregationError(kind: .protocolViolation, message: problem, stage: .setup) }
        guard !site.isEmpty else { throw SecureAggregationError(kind: .protocolViolation, message: "a site needs a name", stage: .setup) }
        if let problem = identity.problem(for: site) { throw SecureAggregationError(kind: .protocolViolation, sites: [site], message: problem, stage: .setup) }
        self.site = site
        self.round = round
        self.parameters = parameters
        self.trust = trust
        context = ProtocolContext(round: round, parameters: parameters)
        (encryptionPair, maskingPair, selfMaskSeed) = try SecureAggregationError.during(.setup) { () throws(SecureAggregationError) in
            (try X25519KeyPair.generate(), try X25519KeyPair.generate(), try SecureRandom.bytes(32))
        }
        let unsigned = KeyAdvertisement(site: site, encryptionKey: encryptionPair.publicKey, maskingKey: maskingPair.publicKey)
        let context = self.context
        advertisement = try SecureAggregationError.during(.setup) { () throws(SecureAggregationError) in try identity.sign(unsigned, context) }
    }

    /// Stage 0: this site's public keys, signed, for the server to relay.
    public let advertisement: KeyAdvertisement

    /// Stage 1. `roster`: the advertisements the server collected (U1, ours included, unchanged).
    /// Refuses fewer than `threshold`, duplicates, or our own keys altered. Returns one envelope per other member.
    public func shareKeys(roster: [KeyAdvertisement]) throws(SecureAggregationError) -> [ShareEnvelope] {
        try SecureAggregationError.during(.shareKeys) { () throws(SecureAggregationError) in try progress.withLock { (state) throws(SecureAggregationError) in
            try expect(state.stage, .advertised, "shareKeys")
            try check(roster)
            let (envelopes, own) = try deal(selfMaskSeed, to: roster.sorted { $0.site < $1.site })
            state.roster = Dictionary(uniqueKeysWithValues: roster.map { ($0.site, $0) })
            state.ownShares = own
            state.stage = .sharedKeys
            return envelopes
        } }
    }

    /// Shares of `seed` (b itself; a test plays a cheating owner with another) and of s_sk for
    /// every member of `sorted` (U1 by name), each sealed to its holder; this site's own pair of
    /// shares is returned, not sent. Every envelope's commitment block is the holder's two share
    /// commitments, then this site's commitment to its own share of b and its commitment to b
    /// (the last two the same in every envelope, which the server checks).
    func deal(_ seed: [UInt8], to sorted: [KeyAdvertisement]) throws(SecureAggregationError) -> (envelopes: [ShareEnvelope], own: EnvelopePayload) {
        let sharing = ShamirSecretSharing(threshold: parameters.threshold)
        let seedShares = try sharing.split(seed, count: sorted.count)
        let keyShares = try sharing.split(maskingPair.privateKey, count: sorted.count)
        var payloads: [EnvelopePayload] = []
        for i in sorted.indices {
            payloads.append(EnvelopePayload(
                selfMaskShare: seedShares[i].bytes, selfMaskSalt: try SecureRandom.bytes(ShareCommitment.saltCount),
                maskingKeyShare: keyShares[i].bytes, maskingKeySalt: try SecureRandom.bytes(ShareCommitment.saltCount)))
        }
        let own = payloads[sorted.firstIndex { $0.site == site }!]
        let ownCommitments = ShareCommitment.commit(share: own.selfMaskShare, salt: own.selfMaskSalt)
            + ShareCommitment.commit(selfMaskSeed: selfMaskSeed, context: context, owner: site)
        var envelopes: [ShareEnvelope] = []
        for (peer, payload) in zip(sorted, payloads) where peer.site != site {
            let commitment = payload.commitments + ownCommitments
            let key = try SecureAggregationError.blaming(peer.site) { () throws(SecureAggregationError) in
                try ProtocolKeys.envelopeKey(encryptionPair, peer: peer.encryptionKey, context: context, from: site, to: peer.site)
            }
            let aad = ProtocolKeys.envelopeAAD(context: context, from: site, to: peer.site, commitment: commitment)
            let sealed = try AESGCM.seal(payload.bytes, key: key, aad: aad)
            envelopes.append(ShareEnvelope(from: site, to: peer.site, ciphertext: sealed, commitment: commitment))
        }
        return (envelopes, own)
    }

    /// Refuses a roster with malformed or repeated entries, one without this site's advertisement
    /// as sent, one where two sites share a key or a key is not its site's (`trust`), one where
    /// the threshold is not more than half the roster, or one smaller than the threshold.
    private func check(_ roster: [KeyAdvertisement]) throws(SecureAggregationError) {
        for advertisement in roster {
            if let problem = advertisement.problem { throw violation(problem, sites: [advertisement.site]) }
        }
        let repeated = Self.repeated(roster.map(\.site))
        guard repeated.isEmpty else { throw violation("the roster names sites more than once", sites: repeated) }
        guard let mine = roster.first(where: { $0.site == site }) else { throw violation("the roster leaves this site out", sites: [site]) }
        guard mine == advertisement else { throw violation("the roster alters this site's keys", sites: [site]) }
        // A key shown under two names would let one site's mask stand for another's.
        var owners: [[UInt8]: String] = [:]
        for advertisement in roster {
            for key in [advertisement.encryptionKey, advertisement.maskingKey] {
                if let other = owners.updateValue(advertisement.site, forKey: key), other != advertisement.site {
                    throw violation("two sites advertised the same key", sites: [other, advertisement.site])
                }
            }
        }
        // Every other key must be its site's own: a key the server made up would let it open the
        // envelopes sent to that site and so collect shares of both secrets of its peers.
        for advertisement in roster where advertisement.site != site {
            if let problem = trust.problem(with: advertisement, context) { throw violation(problem, sites: [advertisement.site]) }
        }
        // A threshold of half the roster or less would let the server split the sites into two
        // groups told different stories about who survived, each large enough to unmask.
        guard 2 * parameters.threshold > roster.count else {
            throw violation("\(roster.count) sites advertised keys: a threshold of \(parameters.threshold) is not more than half of them",
                            sites: roster.map(\.site))
        }
        guard roster.count >= parameters.threshold else {
            throw SecureAggregationError(kind: .belowThreshold, sites: roster.map(\.site),
                                         message: "\(roster.count) sites advertised keys, \(parameters.threshold) needed")
        }
    }

    func expect(_ stage: Stage, _ expected: Stage, _ call: String) throws(SecureAggregationError) {
        guard stage == expected else { throw violation("\(call) called out of order (the client is past stage \(stage))", sites: [site]) }
    }

    func violation(_ message: String, sites: [String]) -> SecureAggregationError {
        SecureAggregationError(kind: .protocolViolation, sites: sites, message: message)
    }

    /// The names that occur more than once in `names`, sorted.
    static func repeated(_ names: [String]) -> [String] {
        var seen = Set<String>(), twice = Set<String>()
        for name in names where !seen.insert(name).inserted { twice.insert(name) }
        return twice.sorted()
    }
}
