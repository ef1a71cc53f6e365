#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
internal import COpenSSL

/// HKDF-SHA256 (RFC 5869) through OpenSSL 3's EVP_KDF "HKDF": turns an X25519 shared secret into
/// keys and seeds, with `info` binding each to its purpose and protocol instance.
package enum HKDF {
    // An OSSL_PARAM keeps the pointer to its name, so the names must outlive every call: C strings
    // made once and never freed (a Swift string literal passed as `const char *` lives only for
    // the call that receives it).
    nonisolated(unsafe) private static let digestName = strdup("digest")!
    nonisolated(unsafe) private static let keyName = strdup("key")!
    nonisolated(unsafe) private static let saltName = strdup("salt")!
    nonisolated(unsafe) private static let infoName = strdup("info")!
    nonisolated(unsafe) private static let sha256Name = strdup("SHA256")!

    /// `length` bytes of HKDF-SHA256(ikm, salt, info). An empty salt means HashLen zero bytes, as
    /// in RFC 5869.
    package static func sha256(key ikm: [UInt8], salt: [UInt8] = [], info: [UInt8], length: Int) throws(SecureAggregationError) -> [UInt8] {
        guard let kdf = EVP_KDF_fetch(nil, "HKDF", nil) else { throw .crypto("EVP_KDF_fetch(HKDF)") }
        defer { EVP_KDF_free(kdf) }
        guard let ctx = EVP_KDF_CTX_new(kdf) else { throw .crypto("EVP_KDF_CTX_new(HKDF)") }
        defer { EVP_KDF_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: length)
        // OpenSSL reads the values only during the call, so the buffers need to live for it alone.
        var ikm = ikm, salt = salt, info = info
        let ok = ikm.withUnsafeMutableBytes { ikmBytes in
            salt.withUnsafeMutableBytes { saltBytes in
                info.withUnsafeMutableBytes { infoBytes in
                    var params: [OSSL_PARAM] = [
                        OSSL_PARAM_construct_utf8_string(digestName, sha256Name, 0),
                        OSSL_PARAM_construct_octet_string(keyName, ikmBytes.baseAddress, ikmBytes.count),
                    ]
                    if infoBytes.count > 0 { params.append(OSSL_PARAM_construct_octet_string(infoName, infoBytes.baseAddress, infoBytes.count)) }
                    if saltBytes.count > 0 { params.append(OSSL_PARAM_construct_octet_string(saltName, saltBytes.baseAddress, saltBytes.count)) }
                    params.append(OSSL_PARAM_construct_end())
                    return out.withUnsafeMutableBufferPointer { EVP_KDF_derive(ctx, $0.baseAddress, length, params) }
                }
            }
        }
        guard ok == 1 else { throw .crypto("EVP_KDF_derive(HKDF-SHA256)") }
        return out
    }
}
