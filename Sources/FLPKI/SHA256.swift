#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import FLCore
internal import COpenSSL

/// SHA-256 through OpenSSL's EVP interface, fed incrementally or in one call.
///
/// Archives are approved by their SHA-256 (an allow-list of lowercase hex digests), so the file
/// form streams through a fixed buffer: an archive of any size costs 64 KiB of memory to hash.
///
/// A value type: copying a half-fed hasher and feeding the copies differently gives two
/// independent digests (the OpenSSL context is copied on the first write after a copy).
public struct SHA256: Sendable {
    /// Digest length in bytes.
    public static let byteCount = 32

    private var context: DigestContext

    /// A hasher that has seen no bytes yet.
    public init() {
        context = DigestContext()
    }

    /// Feeds `bytes` to the hash.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        if !isKnownUniquelyReferenced(&context) { context = context.copy() }
        context.update(bytes)
    }

    /// Feeds `bytes` to the hash.
    public mutating func update(_ bytes: some DataProtocol) {
        for region in bytes.regions {
            region.withUnsafeBytes { update($0) }
        }
    }

    /// The 32-byte digest of everything fed so far; the hasher can go on being fed afterwards.
    public func digest() -> [UInt8] {
        context.copy().finish()
    }

    /// The digest of everything fed so far as 64 lowercase hex digits.
    public func hexDigest() -> String {
        SHA256.hex(digest())
    }

    /// The 32-byte digest of `bytes`.
    public static func digest(_ bytes: some DataProtocol) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.context.finish()
    }

    /// The digest of `bytes` as 64 lowercase hex digits.
    public static func hexDigest(of bytes: some DataProtocol) -> String {
        hex(digest(bytes))
    }

    /// The digest of the file at `path` as 64 lowercase hex digits, read through a fixed buffer.
    public static func hexDigest(ofFile path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw FileError(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var hasher = SHA256()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(path: path, operation: "read", errno: errno)
            }
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        return hasher.hexDigest()
    }

    /// `bytes` as lowercase hex, two digits per byte.
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Owns one `EVP_MD_CTX`. Mutated only while uniquely referenced (`SHA256` copies it first
/// otherwise); shared instances are only read, by `EVP_MD_CTX_copy_ex`, which OpenSSL allows
/// from several threads at once.
private final class DigestContext: @unchecked Sendable {
    let ctx: OpaquePointer

    init() {
        // Both calls fail only when memory is exhausted or the library is broken; there is no
        // sensible way for a caller to go on from that.
        guard let ctx = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new failed: out of memory") }
        guard EVP_DigestInit_ex(ctx, EVP_sha256(), nil) == 1 else {
            fatalError("EVP_DigestInit_ex(SHA-256) failed: \(OpenSSLError("EVP_DigestInit_ex"))")
        }
        self.ctx = ctx
    }

    private init(copying other: DigestContext) {
        guard let ctx = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new failed: out of memory") }
        guard EVP_MD_CTX_copy_ex(ctx, other.ctx) == 1 else {
            fatalError("EVP_MD_CTX_copy_ex failed: \(OpenSSLError("EVP_MD_CTX_copy_ex"))")
        }
        self.ctx = ctx
    }

    deinit { EVP_MD_CTX_free(ctx) }

    func copy() -> DigestContext { DigestContext(copying: self) }

    func update(_ bytes: UnsafeRawBufferPointer) {
        guard EVP_DigestUpdate(ctx, bytes.baseAddress, bytes.count) == 1 else {
            fatalError("EVP_DigestUpdate failed: \(OpenSSLError("EVP_DigestUpdate"))")
        }
    }

    /// Finalises this context; it must not be fed afterwards.
    func finish() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: SHA256.byteCount)
        var length: UInt32 = 0
        let ok = out.withUnsafeMutableBufferPointer { EVP_DigestFinal_ex(ctx, $0.baseAddress, &length) }
        guard ok == 1, length == UInt32(SHA256.byteCount) else {
            fatalError("EVP_DigestFinal_ex failed: \(OpenSSLError("EVP_DigestFinal_ex"))")
        }
        return out
    }
}
