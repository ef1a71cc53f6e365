extension SecureAggregationClient {
    /// Stage 2. `received`: envelopes addressed to us from U2 (the members whose shares went out; U2 ⊆ U1,
    /// |U2| ≥ threshold); `encoded`: our vector from `SecureAggregationEncoding.encode`.
    /// Returns y = x + PRG(b) + Σ_{j∈U2, j≠me} ±PRG(s_me,j) mod 2^bits (+ when me < j by name).
    /// Refuses an input of another length than the round's agreed `vectorLength` or with a value
    /// above the encoding's L for the agreed `cohortSize` (below 2^bits when it is not agreed):
    /// such an input could wrap the sum and spoil everyone's.
    public func maskInput(_ encoded: [UInt32], received: [ShareEnvelope]) throws(SecureAggregationError) -> [UInt32] {
        try SecureAggregationError.during(.maskInput) { () throws(SecureAggregationError) in try progress.withLock { (state) throws(SecureAggregationError) in
            try expect(state.stage, .sharedKeys, "maskInput")
            try checkInput(encoded)
            let roster = state.roster
            let opened = try open(received, roster: roster)
            let members = (opened.keys + [site]).sorted()
            guard members.count >= parameters.threshold else {
                let missing = Set(roster.keys).subtracting(members).sorted()
                throw SecureAggregationError(kind: .belowThreshold, sites: missing,
                                             message: "\(members.count) sites shared keys, \(parameters.threshold) needed")
            }
            var masked = encoded
            try masked.withUnsafeMutableBufferPointer { (values) throws(SecureAggregationError) in
                try MaskGenerator(seed: ProtocolKeys.selfMaskSeed(selfMaskSeed, context: context, owner: site)).add(into: values)
                for peer in members where peer != site {
                    let seed = try SecureAggregationError.blaming(peer) { () throws(SecureAggregationError) in
                        try ProtocolKeys.pairwiseSeed(maskingPair, peer: roster[peer]!.maskingKey, context: context, between: site, and: peer)
                    }
                    let generator = try MaskGenerator(seed: seed)
                    // The smaller name adds, the larger subtracts: in the sum every pair cancels.
                    if site < peer { try generator.add(into: values) } else { try generator.subtract(from: values) }
                }
                ProtocolKeys.reduce(values, bits: parameters.bits)
            }
            state.held = opened
            state.members = members
            state.stage = .masked
            return masked
        } }
    }

    /// Refuses an encoded input of the wrong length or with values out of range.
    private func checkInput(_ encoded: [UInt32]) throws(SecureAggregationError) {
        if let length = round.vectorLength, encoded.count != length {
            throw violation("the input has \(encoded.count) values, the round agreed \(length)", sites: [site])
        }
        guard !encoded.isEmpty else { throw violation("the input is empty", sites: [site]) }
        let top = UInt64(1) << UInt64(parameters.bits) - 1
        let limit = round.cohortSize.map { top / UInt64($0) } ?? top
        if let index = encoded.firstIndex(where: { UInt64($0) > limit }) {
            throw violation("input value \(index) is \(encoded[index]), above the encoding's largest \(limit)", sites: [site])
        }
    }

    /// Opens every envelope, checking that it is addressed to us from another U1 member, only once,
    /// that it authenticates under the pair's key with the round bound in, and that its shares
    /// match the commitments the server will hold us to.
    private func open(_ received: [ShareEnvelope], roster: [String: KeyAdvertisement]) throws(SecureAggregationError) -> [String: EnvelopePayload] {
        let misaddressed = received.filter { $0.to != site || $0.from == site || roster[$0.from] == nil }
        guard misaddressed.isEmpty else {
            throw violation("envelopes not addressed to \(site) from another member of the roster", sites: misaddressed.map(\.from))
        }
        let repeated = Self.repeated(received.map(\.from))
        guard repeated.isEmpty else { throw violation("more than one envelope from the same site", sites: repeated) }
        let position = roster.keys.sorted().firstIndex(of: site)! + 1
        let sharing = ShamirSecretSharing(threshold: parameters.threshold)
        let digest = ShareCommitment.digestCount
        var opened: [String: EnvelopePayload] = [:]
        for envelope in received {
            let key = try SecureAggregationError.blaming(envelope.from) { () throws(SecureAggregationError) in
                try ProtocolKeys.envelopeKey(encryptionPair, peer: roster[envelope.from]!.encryptionKey, context: context, from: envelope.from, to: site)
            }
            let aad = ProtocolKeys.envelopeAAD(context: context, from: envelope.from, to: site, commitment: envelope.commitment)
            let plaintext: [UInt8]
            do {
                plaintext = try AESGCM.open(envelope.ciphertext, key: key, aad: aad)
            } catch {
                throw SecureAggregationError.crypto("the envelope from \(envelope.from) does not open (altered, or from another round)", sites: [envelope.from])
            }
            // The server's own check of these shares when they are revealed: what passes here passes there.
            let commitment = envelope.commitment
            guard let payload = EnvelopePayload(bytes: plaintext), commitment.count == ProtocolKeys.commitmentCount,
                  ShareCommitment.open(commitment[0..<digest], share: payload.selfMaskShare, salt: payload.selfMaskSalt, position: position, sharing: sharing) != nil,
                  ShareCommitment.open(commitment[digest..<(2 * digest)], share: payload.maskingKeyShare, salt: payload.maskingKeySalt, position: position, sharing: sharing) != nil
            else { throw violation("the shares from \(envelope.from) are malformed or do not match their commitments", sites: [envelope.from]) }
            opened[envelope.from] = payload
        }
        return opened
    }

    /// Stage 3. The server's claim: survivors (sent masked input) and dropped (in U2, did not). Refuses
    /// overlapping sets, sets that are not a partition of U2, fewer survivors than threshold, or us not
    /// a survivor. Returns shares of b for each survivor, of s_sk for each dropped (never both for one site).
    ///
    /// Answers one claim per round: asked again with the same claim (a lost reply) it gives the
    /// same shares; asked with another it refuses. A server that told some sites "u survived" and
    /// others "u dropped" would need `threshold` answers of each kind from different sites to learn
    /// u's input, which a threshold above half of U1 (checked with the roster) rules out.
    public func reveal(survivors: [String], dropped: [String]) throws(SecureAggregationError) -> [RevealedShare] {
        try SecureAggregationError.during(.reveal) { () throws(SecureAggregationError) in try progress.withLock { (state) throws(SecureAggregationError) in
            if state.stage == .revealed, let claim = state.claim {
                guard claim.survivors == survivors.sorted(), claim.dropped == dropped.sorted() else {
                    let changed = Set(claim.survivors).symmetricDifference(survivors).union(Set(claim.dropped).symmetricDifference(dropped))
                    throw violation("a second, different claim of survivors and dropped sites", sites: changed.isEmpty ? [site] : Array(changed))
                }
                return state.answer
            }
            try expect(state.stage, .masked, "reveal")
            try checkClaim(survivors: survivors, dropped: dropped, members: state.members)
            var shares: [RevealedShare] = []
            for owner in survivors.sorted() {
                let payload = owner == site ? state.ownShares! : state.held[owner]!
                shares.append(RevealedShare(owner: owner, kind: .selfMaskSeed, share: payload.selfMaskShare, salt: payload.selfMaskSalt))
            }
            for owner in dropped.sorted() {
                let payload = state.held[owner]!
                shares.append(RevealedShare(owner: owner, kind: .maskingKey, share: payload.maskingKeyShare, salt: payload.maskingKeySalt))
            }
            state.claim = (survivors.sorted(), dropped.sorted())
            state.answer = shares
            state.stage = .revealed
            return shares
        } }
    }

    /// Refuses a claim that names a site twice or in both sets, is not a partition of U2
    /// (`members`), has fewer survivors than the threshold, or leaves this site out of the survivors.
    private func checkClaim(survivors: [String], dropped: [String], members: [String]) throws(SecureAggregationError) {
        let repeated = Self.repeated(survivors) + Self.repeated(dropped)
        guard repeated.isEmpty else { throw violation("the survivors or the dropped name a site twice", sites: repeated) }
        let overlap = Set(survivors).intersection(dropped)
        guard overlap.isEmpty else { throw violation("sites claimed both to survive and to have dropped", sites: Array(overlap)) }
        let claimed = Set(survivors).union(dropped)
        let stray = claimed.symmetricDifference(members)
        guard stray.isEmpty else { throw violation("survivors and dropped are not a partition of the sites that shared keys", sites: Array(stray)) }
        guard survivors.count >= parameters.threshold else {
            throw SecureAggregationError(kind: .belowThreshold, sites: dropped,
                                         message: "\(survivors.count) survivors, \(parameters.threshold) needed")
        }
        guard survivors.contains(site) else { throw violation("this site sent its masked input but is not among the survivors", sites: [site]) }
    }
}
