#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FLCore

/// The federation's public-key infrastructure: one certificate authority, and a certificate per
/// participant whose common name is that participant's identity.
///
/// Files follow one layout everywhere:
/// - a CA directory holds `ca.key` (mode 0600), `ca.crt`, its revocation list `crl.pem`, and its
///   records `issued.jsonl` and `revoked.jsonl`;
/// - a participant directory holds `<name>.key` (0600), `<name>.csr` while a request is pending,
///   `<name>.crt` once signed, and a copy of `ca.crt` — the layout
///   `TLSConfiguration(certificateDirectory:name:)` reads.
///
/// Keys are EC P-256, signatures ECDSA with SHA-256. Private keys never leave the machine that made
/// them: the CA signs a request (`.csr`), which carries only the public key.
public enum PKI {
    /// File name of the CA's private key inside its directory.
    public static let authorityKeyFile = "ca.key"
    /// File name of the CA's certificate inside its directory (and in every participant's directory).
    public static let authorityCertificateFile = "ca.crt"
    /// File name of the CA's revocation list inside its directory: what every server and client is
    /// given (`TLSConfiguration.revocationListPath`) to refuse revoked certificates.
    public static let revocationListFile = "crl.pem"
    /// File name of the CA's record of every certificate it signed (JSON lines).
    public static let issuedRecordFile = "issued.jsonl"
    /// File name of the CA's record of every certificate it revoked (JSON lines).
    public static let revokedRecordFile = "revoked.jsonl"
    /// Longest participant name accepted.
    public static let maximumNameLength = 64

    /// Checks that `name` can be a participant's identity: 1–64 characters of `A-Z a-z 0-9 . _ -`,
    /// starting with a letter or digit. Names become certificate common names (compared by the
    /// servers' allow-lists) and file names (`<name>.key`), so nothing else is accepted.
    public static func validate(name: String) throws {
        func refuse(_ why: String) -> PKIError {
            PKIError(.invalidName, "invalid name \(quoted(name)): \(why); a name is 1-\(maximumNameLength) characters of A-Z a-z 0-9 . _ -, starting with a letter or digit")
        }
        if name.isEmpty { throw refuse("it is empty") }
        if let c = name.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw refuse(c.value == 0 ? "it contains a NUL character" : "it contains the control character U+\(String(format: "%04X", c.value))")
        }
        if name.contains("/") { throw refuse("it contains '/'") }
        if name.utf8.count > maximumNameLength { throw refuse("it is \(name.utf8.count) bytes long") }
        if let c = name.unicodeScalars.first(where: { !isNameCharacter($0) }) { throw refuse("it contains \(quoted(String(c)))") }
        if let first = name.unicodeScalars.first, first == "." || first == "-" || first == "_" {
            throw refuse("it starts with \(quoted(String(first)))")
        }
    }

    private static func isNameCharacter(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "a"..."z", "A"..."Z", "0"..."9", ".", "_", "-": true
        default: false
        }
    }

    /// `text` in quotes with control characters escaped, safe to print.
    static func quoted(_ text: String) -> String {
        var out = "'"
        for c in text.unicodeScalars {
            if c.value < 0x20 || c.value == 0x7F { out += "\\u{\(String(c.value, radix: 16))}" } else { out.unicodeScalars.append(c) }
        }
        return out + "'"
    }

    /// Reads a small file whole (certificates, keys, requests), refusing anything over `limit` bytes
    /// (1 MiB unless told: revocation lists and the CA's records may be larger).
    package static func readFile(_ path: String, what: String, limit: Int = 1 << 20) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            throw PKIError(e == ENOENT ? .notFound : .unreadable, path: path, "cannot read the \(what): \(String(cString: strerror(e)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw PKIError(.unreadable, path: path, "cannot read the \(what): \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw PKIError(.unreadable, path: path, "expected the \(what) in a regular file") }
        let size = Int(st.st_size)
        guard size <= limit else { throw PKIError(.malformed, path: path, "expected a \(what) of at most \(limit) bytes, the file has \(size) bytes") }
        var bytes = [UInt8](repeating: 0, count: size)
        do {
            try bytes.withUnsafeMutableBytes { try FileDescriptorIO.readExactly(fd, into: $0, path: path) }
        } catch {
            throw PKIError(.unreadable, path: path, "cannot read the \(what): \(error)")
        }
        return bytes
    }

    /// Creates `path` (mode 0700, it will hold private keys) and its parents when missing.
    static func makeDirectory(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw PKIError(.unreadable, path: path, "expected a directory, found a file") }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw PKIError(.unreadable, path: path, "cannot create the directory: \(error)")
        }
    }

    /// Throws `alreadyExists` when `path` exists, so a key or CA is never silently replaced.
    static func refuseExisting(_ path: String, what: String) throws {
        if FileManager.default.fileExists(atPath: path) {
            throw PKIError(.alreadyExists, path: path, "\(what) already exists; refusing to replace it (move it away first)")
        }
    }
}

/// Who a certificate's holder is in the federation, and so what it may ask of whom. The CA writes
/// the role into the certificate as a subjectAltName URI (`urn:swiftfl:role:envoy`, shown by
/// `openssl x509 -text`); servers read it from the verified peer certificate and check it on every
/// message. A certificate request never chooses its role: the CA's operator does, when signing.
///
/// | role | accepts connections | may |
/// |---|---|---|
/// | `director` | yes | be dialled by Envoys and users |
/// | `aggregator` | yes | be dialled by the collaborators of one experiment |
/// | `envoy` | no | register a site with the Director; its collaborators train with the aggregator |
/// | `user` | no | submit experiments to the Director, and follow and download their own |
/// | `admin` | no | what a user may, for every experiment |
public enum CertificateRole: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case director
    case aggregator
    case envoy
    case user
    case admin

    /// Whether holders listen for connections (extended key usage serverAuth and clientAuth) rather
    /// than only dial out (clientAuth).
    public var acceptsConnections: Bool { self == .director || self == .aggregator }

    /// The subjectAltName URI that carries the role in a certificate.
    public var uri: String { "\(CertificateRole.uriPrefix)\(rawValue)" }

    /// What every role URI starts with.
    public static let uriPrefix = "urn:swiftfl:role:"

    /// The role a certificate's URI names; nil for any other URI.
    public init?(uri: String) {
        guard uri.hasPrefix(CertificateRole.uriPrefix) else { return nil }
        self.init(rawValue: String(uri.dropFirst(CertificateRole.uriPrefix.count)))
    }

    /// The role called `name` (as `--role` and configuration files give it), or an error listing the roles.
    public static func named(_ name: String) throws -> CertificateRole {
        if let role = CertificateRole(rawValue: name) { return role }
        let hint = switch name {
        case "server": " ('server' is now director or aggregator)"
        case "client": " ('client' is now envoy, user or admin)"
        default: ""
        }
        throw PKIError(.unsupported, "unknown role '\(name)'\(hint); expected one of \(allCases.map(\.rawValue).joined(separator: ", "))")
    }

    /// `envoy, user or admin`: a set of roles as a person reads it.
    public static func list(_ roles: some Collection<CertificateRole>) -> String {
        let names = allCases.filter(roles.contains).map(\.rawValue)
        guard names.count > 1 else { return names.first ?? "none" }
        return names.dropLast().joined(separator: ", ") + " or " + names.last!
    }

    public var description: String { rawValue }
}

/// A TLS purpose listed in a certificate's extended key usage.
public enum ExtendedKeyUsage: String, Sendable, Hashable, CaseIterable {
    case serverAuth
    case clientAuth
}

/// The period in which a certificate is valid.
public struct Validity: Sendable, Hashable, CustomStringConvertible {
    /// First moment the certificate is valid.
    public var notBefore: Date
    /// Last moment the certificate is valid.
    public var notAfter: Date

    /// How far `days(_:)` moves the start into the past, so a peer whose clock is a little behind
    /// still accepts a certificate issued a moment ago.
    public static let clockSkewAllowance: TimeInterval = 3600

    /// Exactly `notBefore` to `notAfter` (whole seconds; certificates carry no fractions).
    public init(notBefore: Date, notAfter: Date) {
        self.notBefore = notBefore
        self.notAfter = notAfter
    }

    /// `days` days from `start`, with the start moved back by `clockSkewAllowance`.
    public static func days(_ days: Int, from start: Date = Date()) -> Validity {
        Validity(notBefore: start.addingTimeInterval(-clockSkewAllowance), notAfter: start.addingTimeInterval(Double(days) * 86_400))
    }

    /// The default for participants' certificates: one year.
    public static var defaultCertificate: Validity { .days(365) }
    /// The default for a CA: ten years.
    public static var defaultAuthority: Validity { .days(3650) }

    /// Whether `date` lies inside the period.
    public func contains(_ date: Date) -> Bool { notBefore <= date && date <= notAfter }

    public var description: String { "\(notBefore) to \(notAfter)" }

    func check() throws {
        guard notBefore.timeIntervalSince1970 >= 0, notAfter < Date(timeIntervalSince1970: 253_402_300_799) else {
            throw PKIError(.invalidValidity, "validity \(self) is outside the years 1970-9999")
        }
        guard notBefore < notAfter else { throw PKIError(.invalidValidity, "validity starts (\(notBefore)) after it ends (\(notAfter))") }
    }
}

/// A name a certificate is valid for besides its common name: what a client checks against the
/// host it dialled.
public enum SubjectAlternativeName: Sendable, Hashable, CustomStringConvertible {
    case dnsName(String)
    /// An IPv4 or IPv6 address in canonical text form.
    case ipAddress(String)

    /// An IP address if `host` parses as IPv4 or IPv6, otherwise a DNS name (checked: labels of
    /// letters, digits and hyphens, at most 253 characters).
    public init(host: String) throws {
        if let bytes = IPAddress.bytes(host), let canonical = IPAddress.text(bytes) {
            self = .ipAddress(canonical)
            return
        }
        try SubjectAlternativeName.validate(dnsName: host)
        self = .dnsName(host)
    }

    static func validate(dnsName host: String) throws {
        func refuse(_ why: String) -> PKIError {
            PKIError(.invalidHost, "invalid host \(PKI.quoted(host)): \(why); expected an IPv4 or IPv6 address or a DNS name such as aggregator.example.org")
        }
        if host.isEmpty { throw refuse("it is empty") }
        if host.utf8.count > 253 { throw refuse("it is longer than 253 characters") }
        for label in host.split(separator: ".", omittingEmptySubsequences: false) {
            if label.isEmpty { throw refuse("it has an empty label") }
            if label.utf8.count > 63 { throw refuse("label '\(label)' is longer than 63 characters") }
            if label.first == "-" || label.last == "-" { throw refuse("label '\(label)' starts or ends with '-'") }
            for c in label.unicodeScalars {
                switch c {
                case "a"..."z", "A"..."Z", "0"..."9", "-": continue
                default: throw refuse("it contains \(PKI.quoted(String(c)))")
                }
            }
        }
    }

    /// The name as OpenSSL's configuration syntax and `openssl x509 -text` show it, e.g. `DNS:localhost`, `IP:127.0.0.1`.
    public var description: String {
        switch self {
        case let .dnsName(name): "DNS:\(name)"
        case let .ipAddress(address): "IP:\(address)"
        }
    }
}

/// A PKI operation that failed, naming the file and what was expected of it. OpenSSL's own
/// reasons, when it gave any, are in `openSSLReasons`.
public struct PKIError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, for programs that act on it.
    public enum Kind: Sendable, Hashable {
        /// A participant or CA name that cannot be an identity.
        case invalidName
        /// A host that is neither an IP address nor a DNS name.
        case invalidHost
        /// A file the operation would replace exists already.
        case alreadyExists
        /// A file that should exist does not.
        case notFound
        /// A file or directory that cannot be read or created.
        case unreadable
        /// A file that does not hold what was expected (PEM certificate, request or key).
        case malformed
        /// A request or certificate whose signature does not verify.
        case badSignature
        /// A private key that does not belong to the certificate beside it.
        case keyMismatch
        /// A key too weak to accept.
        case weakKey
        /// A validity period that is empty or outside what a certificate can carry.
        case invalidValidity
        /// A request asking for something this CA does not issue.
        case unsupported
        /// OpenSSL failed at something that should not fail.
        case openSSL
    }

    /// What went wrong.
    public var kind: Kind
    /// The file involved, when there is one.
    public var path: String?
    /// What was expected and what was found, for a person.
    public var reason: String
    /// OpenSSL's error queue at the failure, when OpenSSL was involved.
    public var openSSLReasons: [String]

    /// An error of `kind` about `path` (if any).
    public init(_ kind: Kind, path: String? = nil, _ reason: String, openSSLReasons: [String] = []) {
        self.kind = kind
        self.path = path
        self.reason = reason
        self.openSSLReasons = openSSLReasons
    }

    public var description: String {
        var text = path.map { "\($0): \(reason)" } ?? reason
        if !openSSLReasons.isEmpty { text += " (OpenSSL: \(openSSLReasons.joined(separator: "; ")))" }
        return text
    }
}
