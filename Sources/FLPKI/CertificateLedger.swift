#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FLCore

/// One certificate a CA signed, as recorded in its `issued.jsonl`.
public struct IssuedRecord: Codable, Sendable, Hashable {
    /// Serial number in uppercase hexadecimal (`Certificate.serialNumber`).
    public var serialNumber: String
    /// The holder's name (the certificate's common name).
    public var commonName: String
    /// The role written into the certificate; nil for one issued without a role.
    public var role: String?
    /// When the certificate was signed.
    public var issuedAt: Date
    /// End of its validity period.
    public var notAfter: Date
    /// SHA-256 fingerprint (`Certificate.fingerprint`).
    public var fingerprint: String

    enum CodingKeys: String, CodingKey {
        case serialNumber = "serial", commonName = "name", role, issuedAt = "issued", notAfter = "not_after", fingerprint = "sha256"
    }
}

/// One certificate a CA revoked, as recorded in its `revoked.jsonl`.
public struct RevocationRecord: Codable, Sendable, Hashable {
    /// Serial number in uppercase hexadecimal.
    public var serialNumber: String
    /// The holder's name (the certificate's common name).
    public var commonName: String
    /// When it was revoked: the date the revocation list gives for it.
    public var revokedAt: Date
    /// End of its validity period, after which listing it no longer matters.
    public var notAfter: Date?
    /// SHA-256 fingerprint, when known.
    public var fingerprint: String?

    enum CodingKeys: String, CodingKey {
        case serialNumber = "serial", commonName = "name", revokedAt = "revoked", notAfter = "not_after", fingerprint = "sha256"
    }
}

/// The CA's records on disk, beside `ca.key`: `issued.jsonl` (every certificate signed) and
/// `revoked.jsonl` (every revocation), one JSON object per line so a person can read them.
///
/// Both files only ever grow, and each change rewrites the whole file atomically (`AtomicFile`), so
/// a crash leaves the old records or the new ones, never half a line. Changes hold an exclusive
/// `flock` on the CA directory, so two `fx pki` commands run at once cannot lose each other's lines.
enum CertificateLedger {
    /// Largest record file read: some 40,000 certificates.
    static let maximumFileSize = 16 << 20

    /// Runs `body` holding the CA directory's lock.
    static func locked<T>(_ directory: String, _ body: () throws -> T) throws -> T {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw PKIError(.unreadable, path: directory, "cannot open the CA directory to lock it: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { throw PKIError(.unreadable, path: directory, "cannot lock the CA directory: \(String(cString: strerror(errno)))") }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    /// The records in `path`, oldest first; none when the file does not exist yet.
    static func read<Record: Decodable>(_ type: Record.Type, from path: String) throws -> [Record] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        let bytes = try PKI.readFile(path, what: "CA record", limit: maximumFileSize)
        let decoder = JSONCoding.decoder()
        decoder.dateDecodingStrategy = .iso8601
        var records: [Record] = []
        for (index, line) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            do {
                records.append(try decoder.decode(Record.self, from: Data(line)))
            } catch {
                throw PKIError(.malformed, path: path, "line \(index + 1): expected a JSON object as `fx pki` writes them (\(error))")
            }
        }
        return records
    }

    /// Appends `records` to `path`, rewriting the file atomically.
    static func append<Record: Encodable>(_ records: [Record], to path: String) throws {
        guard !records.isEmpty else { return }
        var bytes = FileManager.default.fileExists(atPath: path) ? try PKI.readFile(path, what: "CA record", limit: maximumFileSize) : []
        if let last = bytes.last, last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }
        let encoder = JSONCoding.encoder(.line)
        encoder.dateEncodingStrategy = .iso8601
        for record in records {
            bytes += try encoder.encode(record)
            bytes.append(UInt8(ascii: "\n"))
        }
        try AtomicFile.write(bytes, to: path, permissions: 0o644)
    }
}
