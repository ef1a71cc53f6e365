internal import COpenSSL

/// Builds the X.509 fields the CA writes. Fixed extensions go through OpenSSL's configuration
/// syntax (constant strings, never user input); subjectAltName is built structurally from
/// validated names so a host can never inject configuration text.
enum X509Extensions {
    /// A `X509V3_CTX` naming `issuer` and `subject` (needed for the key identifiers), without a config database.
    static func context(issuer: OpaquePointer, subject: OpaquePointer) -> X509V3_CTX {
        var ctx = X509V3_CTX()
        X509V3_set_ctx(&ctx, issuer, subject, nil, nil, 0)
        _ = fl_X509V3_set_ctx_nodb(&ctx)
        return ctx
    }

    /// Adds the extension `nid` with configuration `value` (e.g. `critical,CA:TRUE`) to certificate `x`.
    static func add(_ nid: Int32, _ value: String, to x: OpaquePointer, context: inout X509V3_CTX) throws {
        guard let ext = X509V3_EXT_conf_nid(nil, &context, nid, value) else {
            throw OpenSSLError("make extension \(String(cString: OBJ_nid2sn(nid))) = \(value)")
        }
        defer { X509_EXTENSION_free(ext) }
        guard X509_add_ext(x, ext, -1) == 1 else { throw OpenSSLError("add extension \(String(cString: OBJ_nid2sn(nid)))") }
    }

    /// A non-critical subjectAltName extension listing `names` and then `uris` (constant role URIs,
    /// never user input); the caller frees it.
    static func subjectAlternativeName(_ names: [SubjectAlternativeName], uris: [String] = []) throws -> OpaquePointer {
        guard let stack = fl_sk_GENERAL_NAME_new_null() else { throw OpenSSLError("sk_GENERAL_NAME_new_null") }
        defer { fl_GENERAL_NAMES_free(stack) }
        let made = try uris.map { try ia5Name(GEN_URI, $0) } + names.map { name in
            switch name {
            case let .dnsName(host): try ia5Name(GEN_DNS, host)
            case let .ipAddress(address): try ipAddressName(address)
            }
        }
        for (i, general) in made.enumerated() where fl_sk_GENERAL_NAME_push(stack, general) <= 0 {
            for unpushed in made[i...] { GENERAL_NAME_free(unpushed) }
            throw OpenSSLError("add a subject alternative name")
        }
        guard let ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, UnsafeMutableRawPointer(stack)) else {
            throw OpenSSLError("encode subjectAltName")
        }
        return ext
    }

    /// A `GENERAL_NAME` of IA5 text (`GEN_DNS`, `GEN_URI`); the caller frees it.
    private static func ia5Name(_ type: Int32, _ text: String) throws -> UnsafeMutablePointer<GENERAL_NAME> {
        guard let general = GENERAL_NAME_new() else { throw OpenSSLError("GENERAL_NAME_new") }
        guard let ia5 = ASN1_IA5STRING_new() else {
            GENERAL_NAME_free(general)
            throw OpenSSLError("ASN1_IA5STRING_new")
        }
        let bytes = Array(text.utf8)
        guard ASN1_STRING_set(ia5, bytes, Int32(bytes.count)) == 1 else {
            ASN1_IA5STRING_free(ia5)
            GENERAL_NAME_free(general)
            throw OpenSSLError("set name \(text)")
        }
        GENERAL_NAME_set0_value(general, type, UnsafeMutableRawPointer(ia5))
        return general
    }

    /// A `GENERAL_NAME` holding an IP address; the caller frees it.
    private static func ipAddressName(_ address: String) throws -> UnsafeMutablePointer<GENERAL_NAME> {
        guard let general = GENERAL_NAME_new() else { throw OpenSSLError("GENERAL_NAME_new") }
        guard let octets = a2i_IPADDRESS(address) else {
            GENERAL_NAME_free(general)
            throw PKIError(.invalidHost, "invalid IP address '\(address)'", openSSLReasons: OpenSSLError.drainQueue())
        }
        GENERAL_NAME_set0_value(general, GEN_IPADD, UnsafeMutableRawPointer(octets))
        return general
    }

    /// Sets a fresh random 128-bit positive serial number: unpredictable serials keep two
    /// certificates from the same CA distinct without a serial database.
    static func setRandomSerial(_ x: OpaquePointer) throws {
        var bytes = [UInt8](repeating: 0, count: 16)
        repeat {
            guard RAND_bytes(&bytes, Int32(bytes.count)) == 1 else { throw OpenSSLError("RAND_bytes") }
        } while bytes.allSatisfy { $0 == 0 }
        guard let bn = BN_bin2bn(bytes, Int32(bytes.count), nil) else { throw OpenSSLError("BN_bin2bn") }
        defer { BN_free(bn) }
        guard let serial = BN_to_ASN1_INTEGER(bn, nil) else { throw OpenSSLError("BN_to_ASN1_INTEGER") }
        defer { ASN1_INTEGER_free(serial) }
        guard X509_set_serialNumber(x, serial) == 1 else { throw OpenSSLError("X509_set_serialNumber") }
    }

    /// Sets the validity period (whole seconds).
    static func setValidity(_ x: OpaquePointer, _ validity: Validity) throws {
        try validity.check()
        let start = time_t(validity.notBefore.timeIntervalSince1970.rounded(.down))
        let end = time_t(validity.notAfter.timeIntervalSince1970.rounded(.down))
        guard ASN1_TIME_set(X509_getm_notBefore(x), start) != nil, ASN1_TIME_set(X509_getm_notAfter(x), end) != nil else {
            throw OpenSSLError("set validity \(validity)")
        }
    }

    /// An `X509_NAME` with only a common name; the caller frees it.
    static func name(commonName: String) throws -> OpaquePointer {
        guard let name = X509_NAME_new() else { throw OpenSSLError("X509_NAME_new") }
        guard X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8, commonName, -1, -1, 0) == 1 else {
            X509_NAME_free(name)
            throw OpenSSLError("set common name '\(commonName)'")
        }
        return name
    }
}
