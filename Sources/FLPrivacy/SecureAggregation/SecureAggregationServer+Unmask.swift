extension SecureAggregationServer {
    /// Stage 3: a survivor's shares, once: one of b for each survivor, one of s_sk for each dropped
    /// site, nothing else. Whether they open their commitments is checked by `unmask`.
    public mutating func receiveReveal(_ shares: [RevealedShare], from: String) throws(SecureAggregationError) {
        try check(.revealing, from: from, in: survivors, first: reveals[from] == nil, .reveal)
        let asked = Set(survivors.map { Wanted(owner: $0, kind: .selfMaskSeed) } + dropped.map { Wanted(owner: $0, kind: .maskingKey) })
        let given = shares.map { Wanted(owner: $0.owner, kind: $0.kind) }
        guard given.count == asked.count, Set(given) == asked else {
            throw violation(.reveal, "\(from) did not reveal exactly one share of b per survivor and of s_sk per dropped site", [from])
        }
        reveals[from] = shares
    }

    /// How many survivors have revealed their shares.
    public var revealsReceived: Int { reveals.count }

    /// Ends stage 3: checks each revealed share against its commitment (a failing share names its
    /// revealer in `badShares` and is not used), reconstructs b for survivors and s_sk for dropped
    /// (needs `threshold` good shares of each; else .belowThreshold or .badShare naming the sites),
    /// checks a reconstructed s_sk against the advertised s_pk, removes every mask.
    public mutating func unmask() throws(SecureAggregationError) -> UnmaskedSum {
        try check(.revealing, .unmask)
        try require(reveals.keys.sorted(), of: survivors, "revealed their shares", .unmask)
        return try SecureAggregationError.during(.unmask) { () throws(SecureAggregationError) in
            var bad = Set<String>()
            var seeds: [String: [UInt8]] = [:]
            var keys: [String: X25519KeyPair] = [:]
            for owner in survivors {
                let seed = try reconstruct(owner, .selfMaskSeed, bad: &bad)
                // Every share used opened the owner's own commitment, so a seed other than the one
                // it committed to means the owner dealt shares of something else.
                guard ShareCommitment.commit(selfMaskSeed: seed, context: context, owner: owner).elementsEqual(envelopes[owner]!.values.first!.commitment.suffix(ShareCommitment.digestCount)) else {
                    throw violation(.unmask, "the self-mask seed rebuilt from \(owner)'s shares is not the one it committed to: it dealt inconsistent shares", [owner])
                }
                seeds[owner] = seed
            }
            for owner in dropped {
                let secret = try reconstruct(owner, .maskingKey, bad: &bad)
                let pair = try SecureAggregationError.blaming(owner) { () throws(SecureAggregationError) in try X25519KeyPair(privateKey: secret) }
                guard pair.publicKey == advertisements[owner]!.maskingKey else {
                    throw SecureAggregationError.crypto("the masking key rebuilt for \(owner) does not match the one it advertised", sites: [owner])
                }
                keys[owner] = pair
            }
            // Every seed is derived before the sum is touched, so a refusal above leaves the round as it was.
            var masks: [(seed: [UInt8], added: Bool)] = []
            for owner in survivors { masks.append((try ProtocolKeys.selfMaskSeed(seeds[owner]!, context: context, owner: owner), true)) }
            for gone in dropped {
                for owner in survivors {
                    let seed = try SecureAggregationError.blaming(owner) { () throws(SecureAggregationError) in
                        try ProtocolKeys.pairwiseSeed(keys[gone]!, peer: advertisements[owner]!.maskingKey, context: context, between: gone, and: owner)
                    }
                    // The survivor added this mask when its name is the smaller one, and subtracted it otherwise.
                    masks.append((seed, owner < gone))
                }
            }
            var total: [UInt32] = []
            swap(&total, &sum)
            stage = .done
            try total.withUnsafeMutableBufferPointer { (values) throws(SecureAggregationError) in
                for mask in masks {
                    let generator = try MaskGenerator(seed: mask.seed)
                    if mask.added { try generator.subtract(from: values) } else { try generator.add(into: values) }
                }
                ProtocolKeys.reduce(values, bits: parameters.bits)
            }
            return UnmaskedSum(sum: total, contributors: survivors, badShares: bad.sorted())
        }
    }

    /// `owner`'s secret of `kind` from the revealed shares that open their commitments; a revealer
    /// whose share does not is added to `bad`.
    private func reconstruct(_ owner: String, _ kind: RevealedShare.Kind, bad: inout Set<String>) throws(SecureAggregationError) -> [UInt8] {
        let sharing = ShamirSecretSharing(threshold: parameters.threshold)
        var good: [ShamirShare] = []
        var failed: [String] = []
        for revealer in reveals.keys.sorted() {
            guard let revealed = reveals[revealer]!.first(where: { $0.owner == owner && $0.kind == kind }) else { continue }
            let position = keyHolders.firstIndex(of: revealer)! + 1
            if let share = ShareCommitment.open(commitment(owner, kind, revealer), share: revealed.share, salt: revealed.salt,
                                                position: position, sharing: sharing) {
                good.append(share)
            } else {
                failed.append(revealer)
            }
        }
        bad.formUnion(failed)
        guard good.count >= parameters.threshold else {
            let what = kind == .selfMaskSeed ? "self-mask seed" : "masking key"
            let message = "\(good.count) good shares of \(owner)'s \(what), \(parameters.threshold) needed"
            if failed.isEmpty { throw SecureAggregationError(kind: .belowThreshold, sites: [owner], message: message) }
            throw SecureAggregationError(kind: .badShare, sites: failed, message: message + "; the others failed their commitments")
        }
        do {
            return try sharing.combine(good)
        } catch {
            // The shares opened the owner's commitments, so they are what it dealt: it is to blame.
            throw SecureAggregationError(kind: .protocolViolation, sites: [owner],
                                         message: "\(owner)'s shares of its \(kind == .selfMaskSeed ? "self-mask seed" : "masking key") are inconsistent: \(error.message)")
        }
    }

    /// The commitment `owner` made to the share of `kind` it gave `holder`.
    private func commitment(_ owner: String, _ kind: RevealedShare.Kind, _ holder: String) -> ArraySlice<UInt8> {
        let digest = ShareCommitment.digestCount
        if owner == holder { return envelopes[owner]!.values.first!.commitment.suffix(ProtocolKeys.senderCommitmentCount).prefix(digest) }
        let commitment = envelopes[owner]![holder]!.commitment
        return kind == .selfMaskSeed ? commitment[0..<digest] : commitment[digest..<(2 * digest)]
    }
}

/// One share a reveal must hold.
private struct Wanted: Hashable {
    var owner: String
    var kind: RevealedShare.Kind
}
