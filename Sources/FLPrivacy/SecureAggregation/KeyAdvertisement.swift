/// A site's two public keys for one round (stage 0), relayed by the server to the whole cohort.
public struct KeyAdvertisement: Sendable, Hashable, Codable {
    public var site: String
    /// X25519 public key c_pk (32 bytes): for the share envelopes.
    public var encryptionKey: [UInt8]
    /// X25519 public key s_pk (32 bytes): for pairwise masks.
    public var maskingKey: [UInt8]

    public init(site: String, encryptionKey: [UInt8], maskingKey: [UInt8]) {
        self.site = site
        self.encryptionKey = encryptionKey
        self.maskingKey = maskingKey
    }

    /// Why this advertisement is malformed, or nil.
    var problem: String? {
        if site.isEmpty { return "an advertisement without a site name" }
        if encryptionKey.count != X25519KeyPair.byteCount { return "\(site)'s encryption key has \(encryptionKey.count) bytes, expected 32" }
        if maskingKey.count != X25519KeyPair.byteCount { return "\(site)'s masking key has \(maskingKey.count) bytes, expected 32" }
        if encryptionKey == maskingKey { return "\(site) advertised the same key twice" }
        return nil
    }
}
