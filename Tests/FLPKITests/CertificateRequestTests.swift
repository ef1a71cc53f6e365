#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import FLTesting
import FLWire
import FLPKI

@Suite struct CertificateRequestTests {
    let temporary: TemporaryDirectory
    init() throws { temporary = try TemporaryDirectory(prefix: "csr-tests") }

    @Test func createWritesKeyAndRequest() throws {
        let files = try CertificateRequest.create(name: "site-3", hosts: ["site3.example", "127.0.0.1"], directory: temporary.path)
        var st = stat()
        #expect(stat(files.keyPath, &st) == 0 && st.st_mode & 0o777 == 0o600)
        let loaded = try CertificateRequest.load(path: files.requestPath)
        #expect(loaded.commonName == "site-3")
        #expect(loaded.subjectAlternativeNames == [.dnsName("site3.example"), .ipAddress("127.0.0.1")])
        #expect(loaded.keySecurityBits == 128)

        let text = try OpenSSLCommand.run(["req", "-noout", "-text", "-verify", "-in", files.requestPath])
        #expect(text.succeeded, "\(text.errors)")
        #expect((text.output + text.errors).contains("verify OK"))
        #expect(text.output.contains("CN = site-3"))
        #expect(text.output.contains("Requested Extensions"))
        #expect(text.output.contains("DNS:site3.example, IP Address:127.0.0.1"))
        #expect(text.output.contains("prime256v1"))
        // The request holds no private key material.
        #expect(!loaded.pem.contains("PRIVATE KEY"))
    }

    @Test func refusesToReplaceAnExistingKey() throws {
        let first = try CertificateRequest.create(name: "site", directory: temporary.path)
        let keyBefore = try String(contentsOfFile: first.keyPath, encoding: .utf8)
        let error = #expect(throws: PKIError.self) { try CertificateRequest.create(name: "site", directory: temporary.path) }
        #expect(error?.kind == .alreadyExists)
        #expect(try String(contentsOfFile: first.keyPath, encoding: .utf8) == keyBefore)
    }

    @Test func tamperedRequestIsRefused() throws {
        let files = try CertificateRequest.create(name: "honest", hosts: ["10.0.0.1"], directory: temporary.path)
        // Rewrite the name inside the signed part of the DER: "honest" -> "hacker" is as long, so
        // the structure stays valid and only the signature can tell.
        var der = try derBytes(ofPEMFile: files.requestPath)
        let target = Array("honest".utf8)
        let at = try #require(der.indices.dropLast(target.count - 1).first { Array(der[$0..<($0 + target.count)]) == target })
        der.replaceSubrange(at..<(at + target.count), with: Array("hacker".utf8))
        let tampered = temporary.appending("tampered.csr")
        try writePEM(der, label: "CERTIFICATE REQUEST", to: tampered)

        let error = #expect(throws: PKIError.self) { try CertificateRequest.load(path: tampered) }
        #expect(error?.kind == .badSignature)
        #expect(error?.path == tampered)
        let ca = try CertificateAuthority.create(directory: temporary.appending("ca"))
        #expect(throws: PKIError.self) { try ca.sign(requestPath: tampered, role: .envoy) }
        #expect(!FileManager.default.fileExists(atPath: temporary.appending("hacker.crt")))
        // OpenSSL agrees (`req -verify` reports it but exits 0 in OpenSSL 3.0, so read what it says).
        let openssl = try OpenSSLCommand.run(["req", "-noout", "-verify", "-in", tampered])
        #expect((openssl.output + openssl.errors).contains("verify failure"))
    }

    @Test func malformedFilesNameTheFileAndWhatWasExpected() throws {
        let path = temporary.appending("junk.csr")
        try "not a request".write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: PKIError.self) { try CertificateRequest.load(path: path) }
        #expect(error?.kind == .malformed)
        #expect(error?.description.hasPrefix(path) == true)
        #expect(error?.description.contains("BEGIN CERTIFICATE REQUEST") == true)

        let certificateError = #expect(throws: PKIError.self) { try Certificate.load(path: path) }
        #expect(certificateError?.kind == .malformed)
        let keyError = #expect(throws: PKIError.self) { try PrivateKey.load(path: path) }
        #expect(keyError?.kind == .malformed)
        let missing = #expect(throws: PKIError.self) { try Certificate.load(path: temporary.appending("absent.crt")) }
        #expect(missing?.kind == .notFound)
    }

    @Test func encryptedKeysAreRefusedWithoutPrompting() throws {
        let path = temporary.appending("locked.key")
        let made = try OpenSSLCommand.run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                                           "-aes-128-cbc", "-pass", "pass:secret", "-out", path])
        try #require(made.succeeded, "\(made.errors)")
        let error = #expect(throws: PKIError.self) { try PrivateKey.load(path: path) }
        #expect(error?.description.contains("encrypted") == true)
    }

    @Test func badHostsAreRefused() throws {
        for host in ["", "a..b", "-lead.example", "under_score.example", "sp ace", "a,DNS:evil.example", String(repeating: "a", count: 64) + ".example"] {
            let error = #expect(throws: PKIError.self, "host \(host)") { try CertificateRequest.create(name: "site", hosts: [host], directory: temporary.path) }
            #expect(error?.kind == .invalidHost)
        }
        #expect(!FileManager.default.fileExists(atPath: temporary.appending("site.key")), "nothing written for a refused request")
        #expect(try SubjectAlternativeName(host: "2001:DB8::1") == .ipAddress("2001:db8::1"))
        #expect(try SubjectAlternativeName(host: "Agg-1.Example.org") == .dnsName("Agg-1.Example.org"))
    }

    private func derBytes(ofPEMFile path: String) throws -> [UInt8] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let body = text.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        return [UInt8](try #require(Data(base64Encoded: body)))
    }

    private func writePEM(_ der: [UInt8], label: String, to path: String) throws {
        let base64 = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        try "-----BEGIN \(label)-----\n\(base64)\n-----END \(label)-----\n".write(toFile: path, atomically: true, encoding: .utf8)
    }
}
