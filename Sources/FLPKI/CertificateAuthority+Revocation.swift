import Foundation
import FLCore

/// What a revocation did.
public struct RevocationOutcome: Sendable {
    /// Certificates this call revoked.
    public var revoked: [RevocationRecord]
    /// Certificates it was asked to revoke that were revoked before (nothing changed for them).
    public var alreadyRevoked: [RevocationRecord]
    /// The revocation list it wrote: copy it to every machine running a Director, an Envoy or an
    /// aggregator (they reload it when it changes).
    public var revocationListPath: String
}

/// Revocation: a certificate that must stop working before it expires (a stolen key, a site that
/// left) is listed in the CA's `revoked.jsonl` and in the signed revocation list `crl.pem` that
/// every server and client checks (`TLSConfiguration.revocationListPath`).
///
/// The list is distributed as a file the operator copies, never fetched from a URL (SwiftFL's peers
/// dial only each other), so its nextUpdate is the CA's own expiry: a list that "expired" after a
/// week because nobody re-signed it would make every peer refuse every connection. Its lastUpdate is
/// moved back by `Validity.clockSkewAllowance`, as certificates' notBefore is, so a peer whose clock
/// is a little behind does not refuse a list made a moment ago as "not yet valid".
extension CertificateAuthority {
    /// Every certificate this CA recorded signing, oldest first (certificates signed before records
    /// were kept are not in it).
    public func issuedRecords() throws -> [IssuedRecord] {
        try CertificateLedger.read(IssuedRecord.self, from: issuedRecordPath)
    }

    /// Every certificate this CA revoked, oldest first.
    public func revocations() throws -> [RevocationRecord] {
        try CertificateLedger.read(RevocationRecord.self, from: revokedRecordPath)
    }

    /// Revokes every certificate recorded as issued for `name` that has not expired at `date`, and
    /// writes the new `crl.pem`. Throws when there is none (naming this CA's directory); returns an
    /// empty `revoked` when all of them were revoked before.
    @discardableResult
    public func revoke(name: String, at date: Date = Date()) throws -> RevocationOutcome {
        try PKI.validate(name: name)
        return try CertificateLedger.locked(directory) {
            let issued = try CertificateLedger.read(IssuedRecord.self, from: issuedRecordPath).filter { $0.commonName == name }
            let current = issued.filter { $0.notAfter > date }
            guard !current.isEmpty else {
                let why = issued.isEmpty ? "no certificate issued for '\(name)' is recorded in \(PKI.issuedRecordFile)"
                    : "every certificate issued for '\(name)' (\(issued.count)) has expired already"
                throw PKIError(.notFound, path: directory, "\(why); a certificate signed before this CA kept records can be revoked by its file (`fx pki revoke --cert FILE`)")
            }
            return try revokeHoldingLock(current.map {
                RevocationRecord(serialNumber: $0.serialNumber, commonName: $0.commonName, revokedAt: date, notAfter: $0.notAfter, fingerprint: $0.fingerprint)
            }, at: date)
        }
    }

    /// Revokes `certificate`, which must carry this CA's signature (it need not be in the CA's
    /// records: certificates signed before records were kept can be revoked too), and writes the
    /// new `crl.pem`.
    @discardableResult
    public func revoke(certificate: Certificate, at date: Date = Date()) throws -> RevocationOutcome {
        try revoke(certificate, path: nil, at: date)
    }

    /// Revokes the certificate in the PEM file at `path` (see `revoke(certificate:)`).
    @discardableResult
    public func revoke(certificateFile path: String, at date: Date = Date()) throws -> RevocationOutcome {
        try revoke(Certificate.load(path: path), path: path, at: date)
    }

    /// Signs `crl.pem` again from `revoked.jsonl` (for instance after copying a CA directory whose
    /// list was lost) and returns it.
    @discardableResult
    public func updateRevocationList(at date: Date = Date()) throws -> CertificateRevocationList {
        try CertificateLedger.locked(directory) { try writeRevocationList(revocations(), at: date) }
    }

    private func revoke(_ certificate: Certificate, path: String?, at date: Date) throws -> RevocationOutcome {
        guard certificate.fingerprint != self.certificate.fingerprint else {
            throw PKIError(.unsupported, path: path, "this is the CA's own certificate; a CA cannot revoke itself (make a new CA and reissue every certificate instead)")
        }
        guard certificate.issuerCommonName == self.certificate.commonName, issued(certificate) else {
            throw PKIError(.badSignature, path: path ?? directory,
                           "expected a certificate issued by the CA in \(directory) (CN=\(self.certificate.commonName)); this one was issued by CN=\(certificate.issuerCommonName) with another key")
        }
        return try CertificateLedger.locked(directory) {
            try revokeHoldingLock([RevocationRecord(serialNumber: certificate.serialNumber, commonName: certificate.commonName, revokedAt: date,
                                                    notAfter: certificate.notAfter, fingerprint: certificate.fingerprint)], at: date)
        }
    }

    /// Records the revocations not recorded yet and writes the list; the caller holds the lock.
    private func revokeHoldingLock(_ candidates: [RevocationRecord], at date: Date) throws -> RevocationOutcome {
        let existing = try revocations()
        let known = Set(existing.map(\.serialNumber))
        let asked = Set(candidates.map(\.serialNumber))
        let new = candidates.filter { !known.contains($0.serialNumber) }
        try CertificateLedger.append(new, to: revokedRecordPath)
        try writeRevocationList(existing + new, at: date)
        return RevocationOutcome(revoked: new, alreadyRevoked: existing.filter { asked.contains($0.serialNumber) }, revocationListPath: revocationListPath)
    }

    /// Writes `crl.pem` listing `records` (each serial once), signed now.
    @discardableResult
    func writeRevocationList(_ records: [RevocationRecord], at date: Date = Date()) throws -> CertificateRevocationList {
        var seen = Set<String>()
        let entries = records.filter { seen.insert($0.serialNumber).inserted }
            .map { CertificateRevocationList.Entry(serialNumber: $0.serialNumber, revocationDate: $0.revokedAt) }
        // Milliseconds since 1970: a CRL number that grows with every list this CA signs.
        let number = Int(date.timeIntervalSince1970 * 1000)
        let list = try CertificateRevocationList.make(issuer: certificate, key: key, entries: entries,
                                                      lastUpdate: date.addingTimeInterval(-Validity.clockSkewAllowance),
                                                      nextUpdate: certificate.notAfter, number: number)
        try list.write(to: revocationListPath)
        return list
    }
}
