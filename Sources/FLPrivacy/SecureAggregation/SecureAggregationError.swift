import FLPKI

/// Why a stage of secure aggregation refused to go on, naming the stage and the sites concerned.
public struct SecureAggregationError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Sendable, Equatable {
        /// Fewer sites than the threshold took part in a stage (or revealed enough shares).
        case belowThreshold
        /// Revealed shares failed their commitments and too few good ones remain; `sites` are the revealers.
        case badShare
        /// A message broke the protocol (wrong sender, second submission, altered keys, stages out of order…).
        case protocolViolation
        /// A cryptographic operation failed (OpenSSL, an envelope that does not open, a key that does not match).
        case crypto
    }

    /// The protocol step that refused.
    public enum Stage: String, Sendable, Equatable {
        case setup, advertise = "advertise keys", shareKeys = "share keys", maskInput = "mask input"
        case reveal, unmask
        /// Inside a primitive (key agreement, cipher, secret sharing) before a stage claimed the error.
        case primitive
    }

    public var kind: Kind
    /// The sites concerned (missing, misbehaving or named in the refusal), sorted.
    public var sites: [String]
    public var message: String
    public var stage: Stage

    public init(kind: Kind, sites: [String] = [], message: String, stage: Stage = .primitive) {
        self.kind = kind
        self.sites = sites.sorted()
        self.message = message
        self.stage = stage
    }

    public var description: String {
        let who = sites.isEmpty ? "" : " (sites: \(sites.joined(separator: ", ")))"
        return "secure aggregation, stage '\(stage.rawValue)': \(message)\(who)"
    }

    /// A failed cryptographic primitive, with OpenSSL's reasons when it left any (taking them off
    /// this thread's error queue, so they are not blamed on the next OpenSSL call).
    package static func crypto(_ message: String, sites: [String] = []) -> SecureAggregationError {
        let reasons = OpenSSLError.drainQueue()
        let full = reasons.isEmpty ? message : "\(message): \(reasons.joined(separator: "; "))"
        return SecureAggregationError(kind: .crypto, sites: sites, message: full)
    }

    /// Runs `body` (a key agreement with `site`'s public key, say), naming `site` in an error that
    /// names no site yet.
    package static func blaming<T>(_ site: String, _ body: () throws(SecureAggregationError) -> T) throws(SecureAggregationError) -> T {
        do {
            return try body()
        } catch {
            var error = error
            if error.sites.isEmpty { error.sites = [site] }
            throw error
        }
    }

    /// Runs `body`, labelling an error that carries no stage yet with `stage`.
    package static func during<T>(_ stage: Stage, _ body: () throws(SecureAggregationError) -> T) throws(SecureAggregationError) -> T {
        do {
            return try body()
        } catch {
            var error = error
            if error.stage == .primitive { error.stage = stage }
            throw error
        }
    }
}
