/// Every key and seed the protocol derives, with the round and the sites bound into HKDF's `info`
/// (and the envelopes' AAD): a key from one round, attempt, experiment or pair of sites is useless
/// in any other.
package enum ProtocolKeys {
    /// Bytes in a commitment field: to the recipient's two shares, then to the sender's own share
    /// of its self-mask seed, then to the seed itself.
    package static let commitmentCount = 4 * ShareCommitment.digestCount
    /// The bytes at the end of the commitment field that are the same in all of a sender's envelopes.
    package static let senderCommitmentCount = 2 * ShareCommitment.digestCount

    /// The AES-256-GCM key for the envelope `from` → `to`; the direction is in `info`, so the two
    /// envelopes of a pair are sealed under different keys.
    package static func envelopeKey(_ mine: X25519KeyPair, peer: [UInt8], context: ProtocolContext, from: String, to: String) throws(SecureAggregationError) -> [UInt8] {
        let secret = try mine.sharedSecret(with: peer)
        return try HKDF.sha256(key: secret, info: context.binding("envelope key", sites: [from, to]), length: AESGCM.keyCount)
    }

    /// The envelope's additional authenticated data: the round, both names and the commitments.
    package static func envelopeAAD(context: ProtocolContext, from: String, to: String, commitment: [UInt8]) -> [UInt8] {
        var out = ProtocolBytes()
        out.append(context.binding("envelope", sites: [from, to]))
        out.append(commitment)
        return out.bytes
    }

    /// s_{a,b}: the seed of the pairwise mask of sites a and b, the same from either side (the names
    /// go into `info` in sorted order).
    package static func pairwiseSeed(_ mine: X25519KeyPair, peer: [UInt8], context: ProtocolContext, between a: String, and b: String) throws(SecureAggregationError) -> [UInt8] {
        let secret = try mine.sharedSecret(with: peer)
        return try HKDF.sha256(key: secret, info: context.binding("pairwise mask", sites: [min(a, b), max(a, b)]), length: 32)
    }

    /// The PRG seed for a self-mask seed b: b itself is fresh per round, but binding it too costs
    /// nothing and keeps every mask's derivation alike.
    package static func selfMaskSeed(_ b: [UInt8], context: ProtocolContext, owner: String) throws(SecureAggregationError) -> [UInt8] {
        try HKDF.sha256(key: b, info: context.binding("self mask", sites: [owner]), length: 32)
    }

    /// All values below 2^bits.
    package static func reduce(_ values: UnsafeMutableBufferPointer<UInt32>, bits: Int) {
        guard bits < 32 else { return }
        let mask = UInt32((1 << bits) - 1)
        for i in 0..<values.count { values[i] &= mask }
    }
}
