import Foundation
import Synchronization
import FLWire
import FLPKI

/// A throwaway certificate authority for tests: made in a temporary directory in about a
/// millisecond, it issues named certificates and hands back ready `TLSConfiguration`s.
///
/// Each issued identity gets its own files, so the same name can be issued twice (say, once valid
/// and once expired) in one test.
public final class TestPKI: Sendable {
    /// The temporary directory holding this CA and everything it issued; removed when the last
    /// `TestPKI` sharing it goes away.
    public let directory: TemporaryDirectory
    /// Where this CA's files are: `ca/ca.key`, `ca/ca.crt`, and `<n>-<name>.key|crt` per issue.
    public let root: String
    /// The CA itself, for signing by hand.
    public let authority: CertificateAuthority
    private let counter: Atomic<Int>

    /// Makes a new CA named `commonName`. Two `TestPKI`s never trust each other.
    public convenience init(commonName: String = "SwiftFL Test CA") throws {
        try self.init(directory: TemporaryDirectory(prefix: "swiftfl-pki"), name: "pki", commonName: commonName)
    }

    private init(directory: TemporaryDirectory, name: String, commonName: String) throws {
        self.directory = directory
        root = directory.appending(name)
        authority = try CertificateAuthority.create(directory: "\(root)/ca", commonName: commonName)
        counter = Atomic(0)
    }

    /// Path of the CA certificate.
    public var caCertificatePath: String { authority.certificatePath }

    /// Issues a certificate for `name` and returns the TLS configuration of that identity: its key,
    /// its certificate, and this CA as the only trusted root.
    /// - Parameters:
    ///   - hosts: names the certificate is valid for, checked by clients dialling a server.
    ///   - notBefore, notAfter: the validity period; by default from an hour ago to a day from now.
    public func issue(name: String, role: CertificateRole = .envoy, hosts: [String] = ["127.0.0.1", "localhost"],
                      notBefore: Date? = nil, notAfter: Date? = nil) throws -> TLSConfiguration {
        try issueIdentity(name: name, role: role, hosts: hosts, notBefore: notBefore, notAfter: notAfter).configuration
    }

    /// Like `issue`, also returning the certificate and file paths.
    public func issueIdentity(name: String, role: CertificateRole = .envoy, hosts: [String] = ["127.0.0.1", "localhost"],
                              notBefore: Date? = nil, notAfter: Date? = nil) throws -> TestIdentity {
        let now = Date()
        let validity = Validity(notBefore: notBefore ?? now.addingTimeInterval(-3600), notAfter: notAfter ?? now.addingTimeInterval(86_400))
        let key = try PrivateKey.generate()
        let certificate = try authority.sign(CertificateRequest(name: name, hosts: hosts, key: key), role: role, validity: validity)
        let serial = counter.add(1, ordering: .relaxed).newValue
        let base = "\(root)/\(serial)-\(name)"
        try key.write(to: "\(base).key")
        try certificate.write(to: "\(base).crt")
        let configuration = TLSConfiguration(caCertificatePath: caCertificatePath, certificatePath: "\(base).crt", privateKeyPath: "\(base).key")
        return TestIdentity(certificate: certificate, configuration: configuration)
    }

    /// A second CA, unrelated to this one: certificates it issues are refused by this one's peers.
    /// Its files live in this one's directory, so they last as long as either `TestPKI` does.
    public func unrelatedAuthority() throws -> TestPKI {
        try TestPKI(directory: directory, name: "unrelated-\(counter.add(1, ordering: .relaxed).newValue)", commonName: "Unrelated Test CA")
    }
}

/// A certificate issued by `TestPKI`, with the configuration that presents it.
public struct TestIdentity: Sendable {
    /// The issued certificate.
    public let certificate: Certificate
    /// Key, certificate and trusted CA of this identity.
    public let configuration: TLSConfiguration
    public var certificatePath: String { configuration.certificatePath }
    public var privateKeyPath: String { configuration.privateKeyPath }
}
