public import Foundation
public import FLPKI

/// Whom a site believes about its peers' keys: the federation's CA. An advertisement counts only
/// when its certificate was issued by this CA, is valid now, has role envoy, names the advertised
/// site, and its key signed the advertisement for this round and these parameters.
///
/// Revocation is not checked here (the CA's revocation list is the TLS layer's); a revoked site
/// still cannot connect to the aggregator to advertise.
public struct SecureAggregationTrust: Sendable {
    /// The federation's CA certificate.
    public var authority: Certificate
    /// When certificates must be valid; nil: the moment of each check.
    public var date: Date?

    public init(authority: Certificate, date: Date? = nil) {
        self.authority = authority
        self.date = date
    }

    /// Why `advertisement` is not to be believed in `context`, or nil.
    func problem(with advertisement: KeyAdvertisement, _ context: ProtocolContext) -> String? {
        let site = advertisement.site
        guard let certificate = Self.certificate(advertisement.certificate) else { return "\(site)'s certificate does not parse" }
        if !certificate.isIssued(by: authority) { return "\(site)'s certificate was not issued by the federation's CA" }
        if !certificate.isValid(at: date ?? Date()) { return "\(site)'s certificate is not valid now" }
        return Self.signatureProblem(advertisement, certificate, context)
    }

    /// Why `advertisement` is not signed for itself by `certificate`'s key in `context`, or nil:
    /// what a server can check without the CA.
    static func signatureProblem(_ advertisement: KeyAdvertisement, _ certificate: Certificate, _ context: ProtocolContext) -> String? {
        let site = advertisement.site
        if certificate.commonName != site { return "the certificate advertised for \(site) names \(certificate.commonName)" }
        if certificate.role != .envoy { return "\(site)'s certificate has role \(certificate.role.map(\.rawValue) ?? "none"), not envoy" }
        if !certificate.verifySignature(advertisement.signature, over: advertisement.signedBytes(context)) {
            return "\(site)'s key advertisement is not signed by its certificate's key for this round and these parameters"
        }
        return nil
    }

    /// The certificate in `bytes`, DER or PEM, or nil.
    static func certificate(_ bytes: [UInt8]) -> Certificate? {
        if bytes.starts(with: Array("-----BEGIN".utf8)) { return try? Certificate(pem: bytes) }
        return try? Certificate(der: bytes)
    }
}
