import FLPKI

/// The role check a server makes of an authenticated peer, in words the holder can act on. Shared
/// by `HTTPServer` with the same wording `FrameServer` uses for its own peers.
public enum PeerAuthorization {
    /// Why a certificate named `name` with `role` may not use a server that takes `allowed`, or nil when it may.
    public static func refusal(name: String, role: CertificateRole?, allowed: Set<CertificateRole>) -> String? {
        guard let role else {
            return "the certificate of '\(name)' carries no SwiftFL role; reissue it with a role: "
                + "`fx pki certify --name \(name) --role ROLE` or `fx pki sign --csr \(name).csr --role ROLE` "
                + "(this server takes \(CertificateRole.list(allowed)))"
        }
        guard allowed.contains(role) else {
            return "'\(name)' holds a certificate of role \(role); this server takes \(CertificateRole.list(allowed))"
        }
        return nil
    }
}
