import Foundation
import FLCore
internal import COpenSSL

/// A certificate signing request (PKCS#10): a participant's name, the hosts it wants its
/// certificate valid for, and its public key, signed with the matching private key. It is all the
/// CA needs, so the private key never leaves the participant.
///
/// A request is only ever made from, or loaded as, a request whose self-signature verifies and whose
/// name is a valid participant name.
public struct CertificateRequest: Sendable, CustomStringConvertible {
    let handle: RequestHandle

    /// The requested common name: the participant's identity.
    public let commonName: String
    /// The requested DNS names and IP addresses (from the request's extensionRequest attribute).
    public let subjectAlternativeNames: [SubjectAlternativeName]
    /// The request as PEM text.
    public let pem: String

    /// Makes a request for `name` valid for `hosts` (each an IP address or a DNS name), signed with `key`.
    public init(name: String, hosts: [String] = [], key: PrivateKey) throws {
        try PKI.validate(name: name)
        let names = try hosts.map(SubjectAlternativeName.init(host:))
        guard let req = X509_REQ_new() else { throw OpenSSLError("X509_REQ_new") }
        let handle = RequestHandle(req)
        guard X509_REQ_set_version(req, 0) == 1,
              let subject = X509_REQ_get_subject_name(req),
              X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8, name, -1, -1, 0) == 1,
              X509_REQ_set_pubkey(req, key.handle.pointer) == 1
        else { throw OpenSSLError("fill in the certificate request for '\(name)'") }
        if !names.isEmpty {
            let extension_ = try X509Extensions.subjectAlternativeName(names)
            defer { X509_EXTENSION_free(extension_) }
            guard let stack = fl_sk_X509_EXTENSION_new_null() else { throw OpenSSLError("sk_X509_EXTENSION_new_null") }
            defer { fl_sk_X509_EXTENSION_pop_free(stack) }
            guard let copy = X509_EXTENSION_dup(extension_), fl_sk_X509_EXTENSION_push(stack, copy) > 0 else {
                throw OpenSSLError("add subjectAltName to the request")
            }
            guard X509_REQ_add_extensions(req, stack) == 1 else { throw OpenSSLError("add subjectAltName to the request") }
        }
        guard X509_REQ_sign(req, key.handle.pointer, EVP_sha256()) > 0 else { throw OpenSSLError("sign the certificate request") }
        try self.init(handle: handle, path: nil)
    }

    /// Reads a PEM request and verifies its self-signature and name.
    public static func load(path: String) throws -> CertificateRequest {
        try CertificateRequest(pem: PKI.readFile(path, what: "certificate request"), path: path)
    }

    /// Parses a PEM request and verifies its self-signature and name; `path` only names the source in errors.
    public init(pem: some Collection<UInt8>, path: String? = nil) throws {
        guard let req = PEMCodec.decode(Array(pem), { PEM_read_bio_X509_REQ($0, nil, nil, nil) }) else {
            throw PKIError(.malformed, path: path, "expected a PEM certificate request ('-----BEGIN CERTIFICATE REQUEST-----')",
                           openSSLReasons: OpenSSLError.drainQueue())
        }
        try self.init(handle: RequestHandle(req), path: path)
    }

    private init(handle: RequestHandle, path: String?) throws {
        let req = handle.pointer
        self.handle = handle
        // The signature first: nothing in a request is worth reading unless its key holder made it.
        guard let key = X509_REQ_get0_pubkey(req) else {
            throw PKIError(.malformed, path: path, "the certificate request carries no usable public key", openSSLReasons: OpenSSLError.drainQueue())
        }
        guard X509_REQ_verify(req, key) == 1 else {
            throw PKIError(.badSignature, path: path, "the certificate request's signature does not verify: it was altered or not signed by its key",
                           openSSLReasons: OpenSSLError.drainQueue())
        }
        guard let cn = ASN1.commonName(X509_REQ_get_subject_name(req)) else {
            throw PKIError(.malformed, path: path, "the certificate request's subject has no common name (CN)")
        }
        do { try PKI.validate(name: cn) } catch var error as PKIError {
            error.path = path
            throw error
        }
        commonName = cn
        var names: [SubjectAlternativeName] = []
        if let extensions = X509_REQ_get_extensions(req) {
            defer { fl_sk_X509_EXTENSION_pop_free(extensions) }
            var critical: Int32 = 0
            if let raw = X509V3_get_d2i(extensions, NID_subject_alt_name, &critical, nil) {
                let parsed = ASN1.alternativeNames(OpaquePointer(raw))
                fl_GENERAL_NAMES_free(OpaquePointer(raw))
                // A role is the CA's to give, never the requester's to ask for.
                let others = parsed.others + parsed.uris.map { "URI \($0)" }
                if !others.isEmpty {
                    throw PKIError(.unsupported, path: path,
                                   "the certificate request asks for names SwiftFL does not issue (\(others.joined(separator: ", "))); only DNS names and IP addresses (the CA's operator chooses the role)")
                }
                for name in parsed.names {
                    if case let .dnsName(host) = name {
                        do { try SubjectAlternativeName.validate(dnsName: host) } catch var error as PKIError {
                            error.path = path
                            throw error
                        }
                    }
                }
                names = parsed.names
            }
        }
        _ = OpenSSLError.drainQueue()
        subjectAlternativeNames = names
        pem = try PEMCodec.encode("certificate request") { PEM_write_bio_X509_REQ($0, req) }
    }

    /// Security strength of the requested key in bits.
    public var keySecurityBits: Int {
        guard let key = X509_REQ_get0_pubkey(handle.pointer) else { return 0 }
        return Int(EVP_PKEY_get_security_bits(key))
    }

    /// Writes the request as PEM to `path` atomically.
    public func write(to path: String) throws {
        try AtomicFile.write(string: pem, to: path, permissions: 0o644)
    }

    /// Makes a new key and a request for `name`, writing `<name>.key` (0600) and `<name>.csr` into
    /// `directory` (created 0700 if missing). Refuses to replace an existing key unless
    /// `replaceExisting`, since a key may already belong to a signed certificate.
    public static func create(name: String, hosts: [String] = [], directory: String, replaceExisting: Bool = false) throws -> CertificateRequestFiles {
        try PKI.validate(name: name)
        // Check the hosts before anything touches the disk.
        _ = try hosts.map(SubjectAlternativeName.init(host:))
        let keyPath = "\(directory)/\(name).key"
        let requestPath = "\(directory)/\(name).csr"
        try PKI.makeDirectory(directory)
        if !replaceExisting { try PKI.refuseExisting(keyPath, what: "a private key for '\(name)'") }
        let key = try PrivateKey.generate()
        let request = try CertificateRequest(name: name, hosts: hosts, key: key)
        try key.write(to: keyPath)
        try request.write(to: requestPath)
        return CertificateRequestFiles(request: request, keyPath: keyPath, requestPath: requestPath)
    }

    public var description: String {
        subjectAlternativeNames.isEmpty
            ? "request for CN=\(commonName)"
            : "request for CN=\(commonName), names \(subjectAlternativeNames.map(\.description).joined(separator: ","))"
    }
}

/// Where `CertificateRequest.create` put the new key and request.
public struct CertificateRequestFiles: Sendable {
    /// The request as written.
    public let request: CertificateRequest
    /// `<directory>/<name>.key`, mode 0600: stays on this machine.
    public let keyPath: String
    /// `<directory>/<name>.csr`: send it to the CA's operator.
    public let requestPath: String
}
