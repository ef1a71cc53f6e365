import Foundation
import Synchronization
import FLWire

/// A throwaway certificate authority for tests: made in a temporary directory in about a
/// millisecond, it issues named certificates and hands back ready `TLSConfiguration`s.
///
/// Each issued identity gets its own files, so the same name can be issued twice (say, once valid
/// and once expired) in one test.
public final class TestPKI: Sendable {
    /// Holds the CA (`ca.key`, `ca.crt`) and every issued key and certificate.
    public let directory: TemporaryDirectory
    public let authority: CertificateAuthority
    private let issued = Atomic<Int>(0)

    /// Makes a new CA named `commonName`. Two `TestPKI`s never trust each other.
    public init(commonName: String = "SwiftFL Test CA") throws {
        directory = try TemporaryDirectory(prefix: "swiftfl-pki")
        authority = try CertificateAuthority.create(directory: directory.appending("ca"), commonName: commonName)
    }

    /// Path of the CA certificate.
    public var caCertificatePath: String { authority.certificatePath }

    /// Issues a certificate for `name` and returns the TLS configuration of that identity: its key,
    /// its certificate, and this CA as the only trusted root.
    /// - Parameters:
    ///   - hosts: names the certificate is valid for, checked by clients dialling a server.
    ///   - notBefore, notAfter: the validity period; by default from an hour ago to a day from now.
    public func issue(name: String, role: CertificateRole = .client, hosts: [String] = ["127.0.0.1", "localhost"],
                      notBefore: Date? = nil, notAfter: Date? = nil) throws -> TLSConfiguration {
        try issueIdentity(name: name, role: role, hosts: hosts, notBefore: notBefore, notAfter: notAfter).configuration
    }

    /// Like `issue`, also returning the certificate and file paths.
    public func issueIdentity(name: String, role: CertificateRole = .client, hosts: [String] = ["127.0.0.1", "localhost"],
                              notBefore: Date? = nil, notAfter: Date? = nil) throws -> TestIdentity {
        let now = Date()
        let validity = Validity(notBefore: notBefore ?? now.addingTimeInterval(-3600), notAfter: notAfter ?? now.addingTimeInterval(86_400))
        let key = try PrivateKey.generate()
        let certificate = try authority.sign(CertificateRequest(name: name, hosts: hosts, key: key), role: role, validity: validity)
        let serial = issued.add(1, ordering: .relaxed).newValue
        let base = directory.appending("\(serial)-\(name)")
        try key.write(to: "\(base).key")
        try certificate.write(to: "\(base).crt")
        let configuration = TLSConfiguration(caCertificatePath: caCertificatePath, certificatePath: "\(base).crt", privateKeyPath: "\(base).key")
        return TestIdentity(certificate: certificate, configuration: configuration)
    }

    /// A second CA, unrelated to this one: certificates it issues are refused by this one's peers.
    public func unrelatedAuthority() throws -> TestPKI { try TestPKI(commonName: "Unrelated Test CA") }
}

/// A certificate issued by `TestPKI`, with the configuration that presents it.
public struct TestIdentity: Sendable {
    public let certificate: Certificate
    public let configuration: TLSConfiguration
    public var certificatePath: String { configuration.certificatePath }
    public var privateKeyPath: String { configuration.privateKeyPath }
}
