import FLCore
internal import COpenSSL

/// A private key (with its public half). New keys are EC P-256: as strong as RSA-3072 for this
/// use, and about a hundred times faster to make.
public struct PrivateKey: Sendable {
    let handle: KeyHandle

    init(handle: KeyHandle) { self.handle = handle }

    /// Makes a new EC P-256 key.
    public static func generate() throws -> PrivateKey {
        guard let key = fl_EVP_EC_gen_p256() else { throw OpenSSLError("generate an EC P-256 key") }
        return PrivateKey(handle: KeyHandle(key))
    }

    /// Reads an unencrypted PEM private key (PKCS#8 or the traditional EC/RSA forms).
    public static func load(path: String) throws -> PrivateKey {
        try PrivateKey(pem: PKI.readFile(path, what: "private key"), path: path)
    }

    /// Parses PEM text; `path` only names the source in errors.
    public init(pem: some Collection<UInt8>, path: String? = nil) throws {
        let bytes = Array(pem)
        guard let key = PEMCodec.decode(bytes, { fl_PEM_read_bio_unencrypted_PrivateKey($0) }) else {
            let reasons = OpenSSLError.drainQueue()
            let encrypted = String(decoding: bytes, as: UTF8.self).contains("ENCRYPTED")
            throw PKIError(.malformed, path: path,
                           encrypted ? "the private key is encrypted; SwiftFL reads unencrypted keys protected by file permissions (0600)"
                                     : "expected a PEM private key ('-----BEGIN PRIVATE KEY-----')",
                           openSSLReasons: reasons)
        }
        self.handle = KeyHandle(key)
    }

    /// The key as PKCS#8 PEM text. It is secret: write it only with `write(to:)`.
    public func pemString() throws -> String {
        try PEMCodec.encode("private key") { PEM_write_bio_PrivateKey($0, handle.pointer, nil, nil, 0, nil, nil) }
    }

    /// Writes the key atomically to `path` with mode 0600 (whatever the umask).
    public func write(to path: String) throws {
        try AtomicFile.write(string: pemString(), to: path, permissions: 0o600)
    }

    /// Security strength in bits (128 for P-256, 112 for RSA-2048).
    public var securityBits: Int { Int(EVP_PKEY_get_security_bits(handle.pointer)) }
}
