/// One site's Shamir shares for another site (stage 1), sealed so the relaying server cannot read them.
public struct ShareEnvelope: Sendable, Hashable, Codable {
    public var from: String
    public var to: String
    /// AES-256-GCM (nonce ‖ ct ‖ tag) under HKDF(X25519(c_sk_from, c_pk_to)); the AAD binds the
    /// round, `from`, `to` and `commitment`.
    public var ciphertext: [UInt8]
    /// SHA-256 commitments (each over a 32-byte salt ‖ the share) to the two shares inside (of the
    /// self-mask seed, then of the masking key), then to the sender's own share of its self-mask
    /// seed (the one it reveals itself), then to the seed b itself (bound to the sender and the
    /// round): 128 bytes the server keeps, the last 64 the same in all of a sender's envelopes. A
    /// revealed share that does not open its commitment names its revealer; a seed rebuilt from
    /// good shares that does not open the last names the sender.
    public var commitment: [UInt8]

    public init(from: String, to: String, ciphertext: [UInt8], commitment: [UInt8]) {
        self.from = from
        self.to = to
        self.ciphertext = ciphertext
        self.commitment = commitment
    }
}
