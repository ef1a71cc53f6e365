import FLPKI

/// What one end of a mutual-TLS connection presents and trusts. Both ends always present a
/// certificate signed by the federation's CA and verify the other's; only TLS 1.3 is spoken.
public struct TLSConfiguration: Sendable, Hashable {
    /// PEM file with the federation CA's certificate: the only root trusted.
    public var caCertificatePath: String
    /// PEM file with this end's certificate (and any intermediates after it).
    public var certificatePath: String
    /// PEM file with this end's private key.
    public var privateKeyPath: String
    /// TLS 1.3 cipher suites in preference order. AES-128-GCM comes first: it is as safe as
    /// AES-256-GCM for this use and cheaper per byte, which matters when models are gigabytes.
    public var cipherSuites: String
    /// Frees a connection's TLS buffers while it is idle. Saves ~34 KiB per connection for servers
    /// holding thousands of mostly idle peers, at a small cost per read.
    public var releaseIdleBuffers: Bool
    /// PEM file with the CA's certificate revocation list (`crl.pem` in the CA's folder, copied to
    /// each machine); nil checks no revocations. When set, the file must exist and be signed by the
    /// CA, and every new connection — either side — refuses a peer whose certificate it lists. The
    /// file is re-read when it changes (a `stat` per new connection), and a `FrameServer` also closes
    /// established connections whose certificates a new list revokes.
    public var revocationListPath: String?

    public init(
        caCertificatePath: String,
        certificatePath: String,
        privateKeyPath: String,
        cipherSuites: String = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
        releaseIdleBuffers: Bool = false,
        revocationListPath: String? = nil
    ) {
        self.caCertificatePath = caCertificatePath
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
        self.cipherSuites = cipherSuites
        self.releaseIdleBuffers = releaseIdleBuffers
        self.revocationListPath = revocationListPath
    }

    /// The usual layout of a participant's certificate folder: `ca.crt`, `<name>.crt`, `<name>.key`.
    /// `revocationListPath` is not part of the layout: the list comes from the CA's operator and is
    /// named by each role's configuration.
    public init(certificateDirectory dir: String, name: String, revocationListPath: String? = nil) {
        self.init(caCertificatePath: "\(dir)/ca.crt", certificatePath: "\(dir)/\(name).crt", privateKeyPath: "\(dir)/\(name).key",
                  revocationListPath: revocationListPath)
    }
}
