// MARK: - Secure aggregation (SecAgg, Bonawitz et al. 2017), one round and attempt at a time
//
// When the welcome carries `SecureAggregationOffer`, a collaborator with a training task does not
// send its model: it takes part in four stages, each a request the aggregator holds until the
// stage's expected set of sites is complete (or shrinks, or times out):
//   SecAggKeys → SecAggRoster; SecAggShares → SecAggSharesReply; (train)
//   SecAggMaskedInput + the masked vector streamed → SecAggUnmask; SecAggReveal → OkReply.
// FLWire carries plain bytes: the cryptography is FLPrivacy's, run by the roles. Every list and
// byte string here is bounded, so a hostile peer cannot make the aggregator reserve much.

extension MessageRegistry {
    static let secureAggregationMessages: [any WireMessage.Type] = [
        SecAggKeys.self, SecAggRoster.self, SecAggShares.self, SecAggSharesReply.self,
        SecAggMaskedInput.self, SecAggUnmask.self, SecAggReveal.self,
    ]
}

/// The bounds every secure aggregation message is checked against.
public enum SecAggLimits {
    /// Most sites in one round's cohort (and so advertisements, envelopes, names, shares in a message).
    public static let maximumCohort = 4096
    /// An X25519 public key's size.
    public static let publicKeyBytes = 32
    /// Largest share envelope ciphertext (two Shamir shares of 32-byte secrets, sealed, are ~200 bytes).
    public static let maximumCiphertextBytes = 4096
    /// Largest commitment, revealed share or salt.
    public static let maximumShareBytes = 4096
    /// Largest certificate (DER or PEM) an advertisement carries, and largest signature.
    public static let maximumCertificateBytes = 16384
    public static let maximumSignatureBytes = 1024
    /// Most attempts of a round (the straggler policy's retries).
    public static let maximumAttempt = 1_000_000

    static func roundAndAttempt(_ round: Int, _ attempt: Int) throws(WireFieldError) {
        try WireFieldError.round(round, "round")
        try WireFieldError.count(attempt, "attempt", limit: maximumAttempt)
    }

    static func bytes(_ value: [UInt8], _ field: String, limit: Int) throws(WireFieldError) {
        try WireFieldError.require(value.count <= limit, field, "\(value.count) bytes, more than \(limit)")
    }

    static func cohort(_ count: Int, _ field: String) throws(WireFieldError) {
        try WireFieldError.require(count <= maximumCohort, field, "\(count) entries, more than \(maximumCohort)")
    }
}

/// What the welcome says about secure aggregation: the plan's parameters (FLPrivacy's
/// `SecureAggregationParameters`, as plain fields) and how long each stage is held.
public struct SecureAggregationOffer: Codable, Sendable, Hashable {
    public var threshold: Int
    public var clipRange: Double
    public var bits: Int
    /// True: every site weighs 1; false: by its capped sample count (`SecAggRoster.weightCap`).
    public var uniformWeights: Bool
    public var stageTimeout: Double

    public init(threshold: Int, clipRange: Double, bits: Int, uniformWeights: Bool, stageTimeout: Double) {
        self.threshold = threshold
        self.clipRange = clipRange
        self.bits = bits
        self.uniformWeights = uniformWeights
        self.stageTimeout = stageTimeout
    }
}

extension SecureAggregationOffer: WireChecked {
    func check() throws(WireFieldError) {
        try WireFieldError.count(threshold, "threshold", limit: SecAggLimits.maximumCohort)
        try WireFieldError.require(clipRange.isFinite && clipRange > 0, "clipRange", "is \(clipRange)")
        try WireFieldError.require((16...32).contains(bits), "bits", "\(bits) is outside 16...32")
        try WireFieldError.wait(stageTimeout, "stageTimeout")
    }
}

/// What the welcome says about distributed differential privacy: each site clips its update to
/// `clipNorm` and adds Gaussian noise of `noiseStandardDeviation` per coordinate (its share).
public struct DistributedPrivacyOffer: Codable, Sendable, Hashable {
    public var clipNorm: Double
    public var noiseStandardDeviation: Double

    public init(clipNorm: Double, noiseStandardDeviation: Double) {
        self.clipNorm = clipNorm
        self.noiseStandardDeviation = noiseStandardDeviation
    }
}

extension DistributedPrivacyOffer: WireChecked {
    func check() throws(WireFieldError) {
        try WireFieldError.require(clipNorm.isFinite && clipNorm > 0, "clipNorm", "is \(clipNorm)")
        try WireFieldError.require(noiseStandardDeviation.isFinite && noiseStandardDeviation >= 0, "noiseStandardDeviation", "is \(noiseStandardDeviation)")
    }
}

/// What a cohort member learns with its tasks, before its keys: the round's terms its keys are
/// signed for and its weight is made from (both sides bind them: a site told other terms than the
/// rest cannot be summed with them).
public struct SecureAggregationTerms: Codable, Sendable, Hashable {
    /// The invited cohort's size: every site encodes for this many.
    public var cohortSize: Int
    /// Values in a masked input: the model's and the weight factor.
    public var vectorLength: Int
    /// f = min(samples, weightCap) / weightScale (both 1 with uniform weights).
    public var weightCap: Int
    public var weightScale: Int

    public init(cohortSize: Int, vectorLength: Int, weightCap: Int, weightScale: Int) {
        self.cohortSize = cohortSize
        self.vectorLength = vectorLength
        self.weightCap = weightCap
        self.weightScale = weightScale
    }
}

extension SecureAggregationTerms: WireChecked {
    func check() throws(WireFieldError) {
        try WireFieldError.require((1...SecAggLimits.maximumCohort).contains(cohortSize), "cohortSize", "\(cohortSize) is outside 1...\(SecAggLimits.maximumCohort)")
        try WireFieldError.require(vectorLength >= 1 && vectorLength <= 1 << 38, "vectorLength", "is \(vectorLength)")
        try WireFieldError.require(weightScale >= 1, "weightScale", "is \(weightScale)")
        try WireFieldError.count(weightCap, "weightCap", limit: weightScale)
    }
}

/// One site's two X25519 public keys, as the roster lists them, signed with its envoy certificate.
public struct SecAggAdvertisement: Codable, Sendable, Hashable {
    public var site: String
    public var encryptionKey: [UInt8]
    public var maskingKey: [UInt8]
    /// The site's certificate (DER) and its key's signature over the keys, the round and its terms.
    public var certificate: [UInt8]
    public var signature: [UInt8]

    public init(site: String, encryptionKey: [UInt8], maskingKey: [UInt8], certificate: [UInt8], signature: [UInt8]) {
        self.site = site
        self.encryptionKey = encryptionKey
        self.maskingKey = maskingKey
        self.certificate = certificate
        self.signature = signature
    }
}

extension SecAggAdvertisement: WireChecked {
    func check() throws(WireFieldError) {
        let n = SecAggLimits.publicKeyBytes
        try WireFieldError.require(encryptionKey.count == n, "encryptionKey", "\(encryptionKey.count) bytes, expected \(n)")
        try WireFieldError.require(maskingKey.count == n, "maskingKey", "\(maskingKey.count) bytes, expected \(n)")
        try SecAggLimits.bytes(certificate, "certificate", limit: SecAggLimits.maximumCertificateBytes)
        try SecAggLimits.bytes(signature, "signature", limit: SecAggLimits.maximumSignatureBytes)
    }
}

/// Stage 1 request: this site's signed public keys for round `round`, attempt `attempt` (the
/// advertisement's site is the sender's certificate name).
public struct SecAggKeys: WireMessage {
    public static let type = MessageType(rawValue: 0x0110)
    public var round: Int
    public var attempt: Int
    public var encryptionKey: [UInt8]
    public var maskingKey: [UInt8]
    public var certificate: [UInt8]
    public var signature: [UInt8]

    public init(round: Int, attempt: Int, encryptionKey: [UInt8], maskingKey: [UInt8], certificate: [UInt8], signature: [UInt8]) {
        self.round = round
        self.attempt = attempt
        self.encryptionKey = encryptionKey
        self.maskingKey = maskingKey
        self.certificate = certificate
        self.signature = signature
    }
}

extension SecAggKeys: WireChecked {
    func check() throws(WireFieldError) {
        try SecAggLimits.roundAndAttempt(round, attempt)
        try SecAggAdvertisement(site: "", encryptionKey: encryptionKey, maskingKey: maskingKey, certificate: certificate, signature: signature).check()
    }
}

/// Stage 1 reply: every advertisement collected (this site's included).
public struct SecAggRoster: WireMessage {
    public static let type = MessageType(rawValue: 0x0111)
    public var round: Int
    public var attempt: Int
    public var advertisements: [SecAggAdvertisement]

    public init(round: Int, attempt: Int, advertisements: [SecAggAdvertisement]) {
        self.round = round
        self.attempt = attempt
        self.advertisements = advertisements
    }
}

extension SecAggRoster: WireChecked {
    func check() throws(WireFieldError) {
        try SecAggLimits.roundAndAttempt(round, attempt)
        try SecAggLimits.cohort(advertisements.count, "advertisements")
    }
}

/// A sealed envelope of Shamir shares from one site to another (the aggregator relays it unread).
public struct SecAggEnvelope: Codable, Sendable, Hashable {
    public var from: String
    public var to: String
    public var ciphertext: [UInt8]
    public var commitment: [UInt8]

    public init(from: String, to: String, ciphertext: [UInt8], commitment: [UInt8]) {
        self.from = from
        self.to = to
        self.ciphertext = ciphertext
        self.commitment = commitment
    }
}

extension SecAggEnvelope: WireChecked {
    func check() throws(WireFieldError) {
        try SecAggLimits.bytes(ciphertext, "ciphertext", limit: SecAggLimits.maximumCiphertextBytes)
        try SecAggLimits.bytes(commitment, "commitment", limit: SecAggLimits.maximumShareBytes)
    }
}

/// Stage 2 request: this site's envelopes, one for each other member of the roster.
public struct SecAggShares: WireMessage {
    public static let type = MessageType(rawValue: 0x0112)
    public var round: Int
    public var attempt: Int
    public var envelopes: [SecAggEnvelope]

    public init(round: Int, attempt: Int, envelopes: [SecAggEnvelope]) {
        self.round = round
        self.attempt = attempt
        self.envelopes = envelopes
    }
}

extension SecAggShares: WireChecked {
    func check() throws(WireFieldError) {
        try SecAggLimits.roundAndAttempt(round, attempt)
        try SecAggLimits.cohort(envelopes.count, "envelopes")
    }
}

/// Stage 2 reply: the envelopes addressed to this site from the sites whose shares went out.
public struct SecAggSharesReply: WireMessage {
    public static let type = MessageType(rawValue: 0x0113)
    public var round: Int
    public var attempt: Int
    public var envelopes: [SecAggEnvelope]

    public init(round: Int, attempt: Int, envelopes: [SecAggEnvelope]) {
        self.round = round
        self.attempt = attempt
        self.envelopes = envelopes
    }
}

extension SecAggSharesReply: WireChecked {
    func check() throws(WireFieldError) {
        try SecAggLimits.roundAndAttempt(round, attempt)
        try SecAggLimits.cohort(envelopes.count, "envelopes")
    }
}

/// Stage 3 request: the training task's outcome without its model, and `count` masked 32-bit
/// integers (the encoded update and its weight factor) streamed in the chunks that follow.
public struct SecAggMaskedInput: WireMessage {
    public static let type = MessageType(rawValue: 0x0114)
    public var round: Int
    public var attempt: Int
    public var task: String
    public var sampleCount: Int
    public var metrics: [String: Double]
    public var count: Int

    public init(round: Int, attempt: Int, task: String, sampleCount: Int, metrics: [String: Double], count: Int) {
        self.round = round
        self.attempt = attempt
        self.task = task
        self.sampleCount = sampleCount
        self.metrics = metrics
        self.count = count
    }
}

extension SecAggMaskedInput: WireChecked {
    func check() throws(WireFieldError) {
        try SecAggLimits.roundAndAttempt(round, attempt)
        try WireFieldError.count(count, "count", limit: 1 << 40)
    }
}

/// Stage 3 reply: who sent a masked input (survivors) and who of the shares' senders did not (dropped).
public struct SecAggUnmask: WireMessage {
    public static let type = MessageType(rawValue: 0x0115)
    public var round: Int
    public var attempt: Int
    public var survivors: [String]
    public var dropped: [String]

    public init(round: Int, attempt: Int, survivors: [String], dropped: [String]) {
        self.round = round
        self.attempt = attempt
        self.survivors = survivors
        self.dropped = dropped
    }
}

extension SecAggUnmask: WireChecked {
    func check() throws(WireFieldError) {
        try SecAggLimits.roundAndAttempt(round, attempt)
        try SecAggLimits.cohort(survivors.count, "survivors")
        try SecAggLimits.cohort(dropped.count, "dropped")
    }
}

/// One revealed Shamir share: of `owner`'s self-mask seed (kind 1, owner survived) or of its
/// masking key (kind 2, owner dropped), with the salt that opens its commitment.
public struct SecAggRevealedShare: Codable, Sendable, Hashable {
    public var owner: String
    public var kind: UInt8
    public var share: [UInt8]
    public var salt: [UInt8]

    public init(owner: String, kind: UInt8, share: [UInt8], salt: [UInt8]) {
        self.owner = owner
        self.kind = kind
        self.share = share
        self.salt = salt
    }
}

extension SecAggRevealedShare: WireChecked {
    func check() throws(WireFieldError) {
        try WireFieldError.require(kind == 1 || kind == 2, "kind", "\(kind) is neither 1 (self-mask seed) nor 2 (masking key)")
        try SecAggLimits.bytes(share, "share", limit: SecAggLimits.maximumShareBytes)
        try SecAggLimits.bytes(salt, "salt", limit: SecAggLimits.maximumShareBytes)
    }
}

/// Stage 4 request: this site's shares for unmasking; answered by `OkReply`.
public struct SecAggReveal: WireMessage {
    public static let type = MessageType(rawValue: 0x0116)
    public var round: Int
    public var attempt: Int
    public var shares: [SecAggRevealedShare]

    public init(round: Int, attempt: Int, shares: [SecAggRevealedShare]) {
        self.round = round
        self.attempt = attempt
        self.shares = shares
    }
}

extension SecAggReveal: WireChecked {
    func check() throws(WireFieldError) {
        try SecAggLimits.roundAndAttempt(round, attempt)
        try SecAggLimits.cohort(shares.count, "shares")
    }
}
