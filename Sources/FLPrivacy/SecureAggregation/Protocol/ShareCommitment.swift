import FLPKI

/// A hiding, binding commitment to one share: SHA-256(salt ‖ share) with a fresh 32-byte salt. The
/// owner publishes it (inside the envelope's authenticated data, so the server sees it and the
/// recipient knows it is the owner's); a revealer must then open it, so a tampered share names
/// whoever revealed it.
package enum ShareCommitment {
    package static let saltCount = 32
    package static let digestCount = SHA256.byteCount
    /// Bytes in a share of a 32-byte secret: x and one value per chunk, 8 bytes each.
    package static let shareCount = 8 * (ShamirSecretSharing(threshold: 1).chunks + 1)

    package static func commit(share: [UInt8], salt: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(salt)
        hasher.update(share)
        return hasher.digest()
    }

    /// The owner's commitment to its self-mask seed b, bound to the owner and the round: the same
    /// in each of its envelopes, and checked against b once b is rebuilt from shares, so an owner
    /// that dealt shares of anything else is named.
    package static func commit(selfMaskSeed: [UInt8], context: ProtocolContext, owner: String) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(context.binding("self-mask seed commitment", sites: [owner]))
        hasher.update(selfMaskSeed)
        return hasher.digest()
    }

    /// Whether `share` and `salt`, each of its exact size, open `commitment`.
    package static func opens(_ commitment: some Collection<UInt8>, share: [UInt8], salt: [UInt8]) -> Bool {
        salt.count == saltCount && share.count == shareCount && commitment.count == digestCount
            && commit(share: share, salt: salt).elementsEqual(commitment)
    }

    /// The share in `share` when it is the share at x = `position` of a secret split `sharing`'s
    /// way and it opens `commitment` with `salt`; else nil. The one check for both sides: a
    /// recipient takes a share only if it passes, and the server uses a revealed share only if
    /// it passes, so no share an honest site accepted can get it blamed when it reveals.
    package static func open(_ commitment: some Collection<UInt8>, share: [UInt8], salt: [UInt8], position: Int,
                             sharing: ShamirSecretSharing) -> ShamirShare? {
        guard opens(commitment, share: share, salt: salt), let parsed = ShamirShare(bytes: share, chunks: sharing.chunks),
              parsed.x == UInt64(position) else { return nil }
        return parsed
    }
}
