import FLPKI

/// A hiding, binding commitment to one share: SHA-256(salt ‖ share) with a fresh 32-byte salt. The
/// owner publishes it (inside the envelope's authenticated data, so the server sees it and the
/// recipient knows it is the owner's); a revealer must then open it, so a tampered share names
/// whoever revealed it.
package enum ShareCommitment {
    package static let saltCount = 32
    package static let digestCount = SHA256.byteCount

    package static func commit(share: [UInt8], salt: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(salt)
        hasher.update(share)
        return hasher.digest()
    }

    /// Whether `share` and `salt` open `commitment`.
    package static func opens(_ commitment: some Collection<UInt8>, share: [UInt8], salt: [UInt8]) -> Bool {
        salt.count == saltCount && commitment.count == digestCount && commit(share: share, salt: salt).elementsEqual(commitment)
    }
}
