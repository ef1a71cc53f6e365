import Foundation
import FLCore
internal import COpenSSL

/// The federation's certificate authority: a self-signed EC P-256 certificate and its key, kept in
/// one directory (`ca.key` mode 0600, `ca.crt`). It signs participants' requests, issuing
/// certificates whose common name is the participant's identity, records each one it signs
/// (`issued.jsonl`), and revokes them (`revoked.jsonl`, and the signed list `crl.pem`; see
/// `CertificateAuthority+Revocation.swift`).
///
/// Issued certificates carry basicConstraints CA:FALSE, keyUsage digitalSignature (critical), an
/// extended key usage by role (director and aggregator: serverAuth+clientAuth; envoy, user and
/// admin: clientAuth), the requested subjectAltNames plus the role's URI (`urn:swiftfl:role:…`),
/// subject and authority key identifiers, and a random 128-bit serial.
/// Nothing else from a request is copied: only its name, hosts and public key; the role is the
/// operator's choice, never the request's.
public final class CertificateAuthority: Sendable {
    /// The directory holding `ca.key` and `ca.crt`.
    public let directory: String
    /// The CA's own certificate: what every participant trusts.
    public let certificate: Certificate
    let key: PrivateKey

    /// Path of the CA certificate, to hand to participants.
    public var certificatePath: String { "\(directory)/\(PKI.authorityCertificateFile)" }
    /// Path of the CA key (mode 0600).
    public var keyPath: String { "\(directory)/\(PKI.authorityKeyFile)" }
    /// Path of the CA's certificate revocation list, to hand to every server and client.
    public var revocationListPath: String { "\(directory)/\(PKI.revocationListFile)" }
    /// Path of the record of every certificate this CA signed.
    public var issuedRecordPath: String { "\(directory)/\(PKI.issuedRecordFile)" }
    /// Path of the record of every certificate this CA revoked.
    public var revokedRecordPath: String { "\(directory)/\(PKI.revokedRecordFile)" }

    private init(directory: String, certificate: Certificate, key: PrivateKey) {
        self.directory = directory
        self.certificate = certificate
        self.key = key
    }

    /// Creates a new CA in `directory` (made 0700 if missing): `ca.key` (0600) and a self-signed
    /// `ca.crt` with basicConstraints critical CA:TRUE, pathlen:0, keyUsage critical
    /// keyCertSign+cRLSign and a subject key identifier, and an empty revocation list `crl.pem`, so
    /// configurations can name it from the first day. Refuses to replace an existing CA.
    public static func create(directory: String, commonName: String = "SwiftFL CA",
                              validity: Validity = .defaultAuthority) throws -> CertificateAuthority {
        try validate(authorityName: commonName)
        let keyPath = "\(directory)/\(PKI.authorityKeyFile)"
        let certificatePath = "\(directory)/\(PKI.authorityCertificateFile)"
        try PKI.makeDirectory(directory)
        try PKI.refuseExisting(keyPath, what: "a CA key")
        try PKI.refuseExisting(certificatePath, what: "a CA certificate")

        let key = try PrivateKey.generate()
        guard let x = X509_new() else { throw OpenSSLError("X509_new") }
        let handle = X509Handle(x)
        let name = try X509Extensions.name(commonName: commonName)
        defer { X509_NAME_free(name) }
        guard X509_set_version(x, 2) == 1, X509_set_subject_name(x, name) == 1, X509_set_issuer_name(x, name) == 1,
              X509_set_pubkey(x, key.handle.pointer) == 1
        else { throw OpenSSLError("fill in the CA certificate") }
        try X509Extensions.setRandomSerial(x)
        try X509Extensions.setValidity(x, validity)
        var context = X509Extensions.context(issuer: x, subject: x)
        try X509Extensions.add(NID_basic_constraints, "critical,CA:TRUE,pathlen:0", to: x, context: &context)
        try X509Extensions.add(NID_key_usage, "critical,keyCertSign,cRLSign", to: x, context: &context)
        try X509Extensions.add(NID_subject_key_identifier, "hash", to: x, context: &context)
        guard X509_sign(x, key.handle.pointer, EVP_sha256()) > 0 else { throw OpenSSLError("sign the CA certificate") }
        let certificate = try Certificate(handle: handle)

        try key.write(to: keyPath)
        try certificate.write(to: certificatePath)
        let authority = CertificateAuthority(directory: directory, certificate: certificate, key: key)
        try authority.writeRevocationList([])
        return authority
    }

    /// Loads the CA in `directory`, checking that `ca.crt` is a CA certificate and `ca.key` its key.
    /// A CA made before revocation lists existed gets its `crl.pem` here (from `revoked.jsonl`, so
    /// usually empty), so that configurations can name it; a directory that cannot be written to is
    /// left as it is.
    public static func load(directory: String) throws -> CertificateAuthority {
        let certificatePath = "\(directory)/\(PKI.authorityCertificateFile)"
        let keyPath = "\(directory)/\(PKI.authorityKeyFile)"
        let certificate = try Certificate.load(path: certificatePath)
        guard certificate.isCertificateAuthority else {
            throw PKIError(.malformed, path: certificatePath, "expected a CA certificate (basicConstraints CA:TRUE), found one for '\(certificate.commonName)'")
        }
        let key = try PrivateKey.load(path: keyPath)
        guard certificate.matches(key) else {
            throw PKIError(.keyMismatch, path: keyPath, "this key does not belong to the CA certificate \(certificatePath)")
        }
        let authority = CertificateAuthority(directory: directory, certificate: certificate, key: key)
        if !FileManager.default.fileExists(atPath: authority.revocationListPath) { _ = try? authority.updateRevocationList() }
        return authority
    }

    /// Issues a certificate for `request`. The request's signature and name were checked when it
    /// was made or loaded; here its key strength and the validity period are.
    ///
    /// A director or aggregator with no requested names gets `DNS:<name>`, so it can be dialled by its name.
    public func sign(_ request: CertificateRequest, role: CertificateRole, validity: Validity = .defaultCertificate) throws -> Certificate {
        try sign(request, optionalRole: role, validity: validity)
    }

    /// `optionalRole` nil issues a certificate without a role, as CAs did before roles existed:
    /// tests use it to check that such certificates are refused.
    package func sign(_ request: CertificateRequest, optionalRole role: CertificateRole?, validity: Validity) throws -> Certificate {
        guard request.keySecurityBits >= 112 else {
            throw PKIError(.weakKey, "the key in the request for '\(request.commonName)' gives \(request.keySecurityBits) bits of security; at least 112 (EC P-256, RSA-2048) are required")
        }
        try validity.check()
        guard validity.notAfter <= certificate.notAfter else {
            throw PKIError(.invalidValidity, path: certificatePath,
                           "the certificate would be valid until \(validity.notAfter), after the CA itself expires (\(certificate.notAfter)); choose a shorter validity or a new CA")
        }
        guard let publicKey = X509_REQ_get0_pubkey(request.handle.pointer) else { throw OpenSSLError("read the request's public key") }
        guard let x = X509_new() else { throw OpenSSLError("X509_new") }
        let handle = X509Handle(x)
        let subject = try X509Extensions.name(commonName: request.commonName)
        defer { X509_NAME_free(subject) }
        guard X509_set_version(x, 2) == 1, X509_set_subject_name(x, subject) == 1,
              X509_set_issuer_name(x, X509_get_subject_name(certificate.handle.pointer)) == 1,
              X509_set_pubkey(x, publicKey) == 1
        else { throw OpenSSLError("fill in the certificate for '\(request.commonName)'") }
        try X509Extensions.setRandomSerial(x)
        try X509Extensions.setValidity(x, validity)

        var context = X509Extensions.context(issuer: certificate.handle.pointer, subject: x)
        try X509Extensions.add(NID_basic_constraints, "critical,CA:FALSE", to: x, context: &context)
        try X509Extensions.add(NID_key_usage, "critical,digitalSignature", to: x, context: &context)
        let acceptsConnections = role?.acceptsConnections ?? false
        try X509Extensions.add(NID_ext_key_usage, acceptsConnections ? "serverAuth,clientAuth" : "clientAuth", to: x, context: &context)
        var names = request.subjectAlternativeNames
        if names.isEmpty && acceptsConnections { names = [.dnsName(request.commonName)] }
        let uris = role.map { [$0.uri] } ?? []
        if !names.isEmpty || !uris.isEmpty {
            let san = try X509Extensions.subjectAlternativeName(names, uris: uris)
            defer { X509_EXTENSION_free(san) }
            guard X509_add_ext(x, san, -1) == 1 else { throw OpenSSLError("add subjectAltName") }
        }
        try X509Extensions.add(NID_subject_key_identifier, "hash", to: x, context: &context)
        try X509Extensions.add(NID_authority_key_identifier, "keyid:always", to: x, context: &context)
        guard X509_sign(x, key.handle.pointer, EVP_sha256()) > 0 else { throw OpenSSLError("sign the certificate for '\(request.commonName)'") }
        let issued = try Certificate(handle: handle)
        // Recorded before anyone can hold it, so `revoke(name:)` always finds it.
        let record = IssuedRecord(serialNumber: issued.serialNumber, commonName: issued.commonName, role: issued.role?.rawValue,
                                  issuedAt: Date(), notAfter: issued.notAfter, fingerprint: issued.fingerprint)
        try CertificateLedger.locked(directory) { try CertificateLedger.append([record], to: issuedRecordPath) }
        return issued
    }

    /// Signs the request in the PEM file `requestPath` and writes the certificate to `outputPath`
    /// (default: `<name>.crt` beside the request), replacing an older certificate there (renewal).
    /// Print the returned fingerprint so the participant can check it out of band.
    public func sign(requestPath: String, role: CertificateRole, validity: Validity = .defaultCertificate,
                     outputPath: String? = nil) throws -> IssuedCertificate {
        let request = try CertificateRequest.load(path: requestPath)
        let certificate = try sign(request, role: role, validity: validity)
        let directory = (requestPath as NSString).deletingLastPathComponent
        let path = outputPath ?? "\(directory.isEmpty ? "." : directory)/\(request.commonName).crt"
        try certificate.write(to: path)
        return IssuedCertificate(certificate: certificate, path: path)
    }

    /// Request and signature in one step, for a participant set up on the CA's own machine: writes
    /// `<name>.key` (0600), `<name>.crt` and a copy of `ca.crt` into `directory` (made 0700 if
    /// missing), the layout `TLSConfiguration(certificateDirectory:name:)` reads. Refuses to
    /// replace an existing key unless `replaceExisting`.
    public func certify(name: String, hosts: [String] = [], role: CertificateRole, directory: String,
                        validity: Validity = .defaultCertificate, replaceExisting: Bool = false) throws -> IssuedIdentity {
        try PKI.validate(name: name)
        // Check the hosts before anything touches the disk.
        _ = try hosts.map(SubjectAlternativeName.init(host:))
        let ownCertificatePath = self.certificatePath
        let keyPath = "\(directory)/\(name).key"
        let certificatePath = "\(directory)/\(name).crt"
        let caPath = "\(directory)/\(PKI.authorityCertificateFile)"
        try PKI.makeDirectory(directory)
        if !replaceExisting { try PKI.refuseExisting(keyPath, what: "a private key for '\(name)'") }
        let key = try PrivateKey.generate()
        let certificate = try sign(CertificateRequest(name: name, hosts: hosts, key: key), role: role, validity: validity)
        try key.write(to: keyPath)
        try certificate.write(to: certificatePath)
        if !Self.sameFile(caPath, ownCertificatePath) { try self.certificate.write(to: caPath) }
        return IssuedIdentity(name: name, certificate: certificate, keyPath: keyPath, certificatePath: certificatePath, authorityCertificatePath: caPath)
    }

    /// Whether `certificate` carries this CA's signature (trust only; validity dates are not checked).
    public func issued(_ certificate: Certificate) -> Bool {
        let ok = X509_verify(certificate.handle.pointer, key.handle.pointer) == 1
        _ = OpenSSLError.drainQueue()
        return ok
    }

    private static func validate(authorityName name: String) throws {
        let bad = name.unicodeScalars.first { $0.value < 0x20 || $0.value == 0x7F || $0 == "/" }
        guard !name.isEmpty, name.utf8.count <= PKI.maximumNameLength, bad == nil else {
            throw PKIError(.invalidName, "invalid CA name \(PKI.quoted(name)): expected 1-\(PKI.maximumNameLength) printable characters without '/'")
        }
    }

    private static func sameFile(_ a: String, _ b: String) -> Bool {
        URL(fileURLWithPath: a).standardizedFileURL.resolvingSymlinksInPath().path == URL(fileURLWithPath: b).standardizedFileURL.resolvingSymlinksInPath().path
    }
}

/// A certificate the CA signed and wrote to a file.
public struct IssuedCertificate: Sendable {
    /// The certificate as issued.
    public let certificate: Certificate
    /// Where the PEM certificate was written.
    public let path: String
    /// The certificate's common name: the participant's identity.
    public var commonName: String { certificate.commonName }
    /// SHA-256 fingerprint, colon-separated uppercase hex, for out-of-band checking.
    public var fingerprint: String { certificate.fingerprint }
}

/// A participant's key and certificate made in one step by `CertificateAuthority.certify`.
public struct IssuedIdentity: Sendable {
    /// The participant's name: the certificate's common name.
    public let name: String
    /// The certificate as issued.
    public let certificate: Certificate
    /// `<directory>/<name>.key`, mode 0600.
    public let keyPath: String
    /// `<directory>/<name>.crt`.
    public let certificatePath: String
    /// `<directory>/ca.crt`, the CA certificate this participant trusts.
    public let authorityCertificatePath: String
    /// SHA-256 fingerprint of the certificate.
    public var fingerprint: String { certificate.fingerprint }
}
