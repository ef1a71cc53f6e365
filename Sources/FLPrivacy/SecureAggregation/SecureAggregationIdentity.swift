public import FLPKI

/// A site's own certificate and its private key: the client signs its key advertisement with them.
public struct SecureAggregationIdentity: Sendable {
    /// An envoy-role certificate whose common name is the site's name.
    public var certificate: Certificate
    public var key: PrivateKey

    public init(certificate: Certificate, key: PrivateKey) {
        self.certificate = certificate
        self.key = key
    }

    /// Why this identity cannot sign for `site`, or nil.
    func problem(for site: String) -> String? {
        if certificate.commonName != site { return "the certificate names \(certificate.commonName), not \(site)" }
        if certificate.role != .envoy { return "the certificate of \(site) has role \(certificate.role.map(\.rawValue) ?? "none"), not envoy" }
        if !certificate.matches(key) { return "the private key of \(site) does not match its certificate" }
        return nil
    }

    /// `advertisement` with this identity's certificate and its signature for `context`.
    func sign(_ advertisement: KeyAdvertisement, _ context: ProtocolContext) throws(SecureAggregationError) -> KeyAdvertisement {
        var signed = advertisement
        signed.certificate = certificate.der
        do {
            signed.signature = try key.sign(signed.signedBytes(context))
        } catch {
            throw SecureAggregationError.crypto("signing \(advertisement.site)'s key advertisement failed: \(error)", sites: [advertisement.site])
        }
        return signed
    }
}
