internal import COpenSSL

/// AES-256-GCM through OpenSSL's EVP interface: the share envelopes are sealed with it, so the
/// server that relays them learns nothing of the shares and cannot alter or re-address them.
package enum AESGCM {
    package static let keyCount = 32
    package static let nonceCount = 12
    package static let tagCount = 16

    /// nonce ‖ ciphertext ‖ tag. The nonce is random unless given (tests pin it to published vectors);
    /// a random 96-bit nonce is safe here because each key seals a single envelope.
    package static func seal(_ plaintext: [UInt8], key: [UInt8], aad: [UInt8], nonce fixedNonce: [UInt8]? = nil) throws(SecureAggregationError) -> [UInt8] {
        guard key.count == keyCount else { throw .crypto("AES-256-GCM key of \(key.count) bytes, expected 32") }
        let nonce: [UInt8]
        if let given = fixedNonce { nonce = given } else { nonce = try SecureRandom.bytes(nonceCount) }
        guard nonce.count == nonceCount else { throw .crypto("AES-256-GCM nonce of \(nonce.count) bytes, expected 12") }
        guard let ctx = EVP_CIPHER_CTX_new() else { throw .crypto("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        var ciphertext = [UInt8](repeating: 0, count: plaintext.count + 16)
        var tag = [UInt8](repeating: 0, count: tagCount)
        var length: Int32 = 0, final: Int32 = 0
        guard EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nil, key, nonce) == 1,
              aad.isEmpty || EVP_EncryptUpdate(ctx, nil, &length, aad, Int32(aad.count)) == 1,
              EVP_EncryptUpdate(ctx, &ciphertext, &length, plaintext, Int32(plaintext.count)) == 1,
              ciphertext.withUnsafeMutableBufferPointer({ EVP_EncryptFinal_ex(ctx, $0.baseAddress! + Int(length), &final) }) == 1,
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, Int32(tagCount), &tag) == 1
        else { throw .crypto("AES-256-GCM seal") }
        return nonce + ciphertext[0..<Int(length + final)] + tag
    }

    /// The plaintext of `sealed` (nonce ‖ ciphertext ‖ tag); throws when the tag does not match
    /// (wrong key, altered bytes, or different `aad`).
    package static func open(_ sealed: [UInt8], key: [UInt8], aad: [UInt8]) throws(SecureAggregationError) -> [UInt8] {
        guard key.count == keyCount else { throw .crypto("AES-256-GCM key of \(key.count) bytes, expected 32") }
        guard sealed.count >= nonceCount + tagCount else { throw .crypto("AES-256-GCM message of \(sealed.count) bytes is too short") }
        let nonce = Array(sealed[0..<nonceCount])
        let body = Array(sealed[nonceCount..<(sealed.count - tagCount)])
        var tag = Array(sealed[(sealed.count - tagCount)...])
        guard let ctx = EVP_CIPHER_CTX_new() else { throw .crypto("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        var plaintext = [UInt8](repeating: 0, count: body.count + 16)
        var length: Int32 = 0, final: Int32 = 0
        guard EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nil, key, nonce) == 1,
              aad.isEmpty || EVP_DecryptUpdate(ctx, nil, &length, aad, Int32(aad.count)) == 1,
              EVP_DecryptUpdate(ctx, &plaintext, &length, body, Int32(body.count)) == 1,
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, Int32(tagCount), &tag) == 1
        else { throw .crypto("AES-256-GCM open") }
        let ok = plaintext.withUnsafeMutableBufferPointer { EVP_DecryptFinal_ex(ctx, $0.baseAddress! + Int(length), &final) }
        guard ok == 1 else { throw .crypto("AES-256-GCM open: authentication failed") }
        return Array(plaintext[0..<Int(length + final)])
    }
}
