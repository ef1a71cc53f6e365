/// A site's two public keys for one round (stage 0), relayed by the server to the whole cohort,
/// signed with the site's own certificate key so the server cannot substitute keys of its own.
public struct KeyAdvertisement: Sendable, Hashable, Codable {
    public var site: String
    /// X25519 public key c_pk (32 bytes): for the share envelopes.
    public var encryptionKey: [UInt8]
    /// X25519 public key s_pk (32 bytes): for pairwise masks.
    public var maskingKey: [UInt8]
    /// The site's certificate (DER; PEM is read too), issued by the federation's CA with role
    /// envoy and the site's name as its common name.
    public var certificate: [UInt8]
    /// The certificate key's SHA-256 signature over `signedBytes`: the protocol version, the
    /// purpose, the round with its agreed values, the parameters, the site and both keys.
    public var signature: [UInt8]

    public init(site: String, encryptionKey: [UInt8], maskingKey: [UInt8], certificate: [UInt8] = [], signature: [UInt8] = []) {
        self.site = site
        self.encryptionKey = encryptionKey
        self.maskingKey = maskingKey
        self.certificate = certificate
        self.signature = signature
    }

    /// What `signature` signs in `context`.
    package func signedBytes(_ context: ProtocolContext) -> [UInt8] {
        var out = ProtocolBytes()
        out.append(context.binding("key advertisement", sites: [site]))
        out.append(encryptionKey)
        out.append(maskingKey)
        return out.bytes
    }

    /// Why this advertisement is malformed, or nil.
    var problem: String? {
        if site.isEmpty { return "an advertisement without a site name" }
        if encryptionKey.count != X25519KeyPair.byteCount { return "\(site)'s encryption key has \(encryptionKey.count) bytes, expected 32" }
        if maskingKey.count != X25519KeyPair.byteCount { return "\(site)'s masking key has \(maskingKey.count) bytes, expected 32" }
        if encryptionKey == maskingKey { return "\(site) advertised the same key twice" }
        for (name, key) in [("encryption", encryptionKey), ("masking", maskingKey)] {
            if let problem = X25519KeyPair.publicKeyProblem(key) { return "\(site)'s \(name) key is \(problem)" }
        }
        return nil
    }
}
