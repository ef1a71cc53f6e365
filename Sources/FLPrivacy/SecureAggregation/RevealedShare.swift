/// A survivor's share of another site's secret (stage 3), opened for the server.
public struct RevealedShare: Sendable, Hashable, Codable {
    public enum Kind: UInt8, Sendable, Hashable, Codable {
        /// A share of a survivor's self-mask seed b.
        case selfMaskSeed = 1
        /// A share of a dropped site's masking private key s_sk.
        case maskingKey = 2
    }

    /// Whose secret this is a share of.
    public var owner: String
    public var kind: Kind
    /// The share's bytes (x-coordinate and chunk values).
    public var share: [UInt8]
    /// Opens the owner's commitment for this share.
    public var salt: [UInt8]

    public init(owner: String, kind: Kind, share: [UInt8], salt: [UInt8]) {
        self.owner = owner
        self.kind = kind
        self.share = share
        self.salt = salt
    }
}
