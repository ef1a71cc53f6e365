import Foundation
import FLCore
import FLPKI
import FLPrivacy
import FLTraining
import FLWire

/// The aggregator gave up on this round's secure aggregation (below its threshold, the attempt
/// over, this site left out): the site leaves the round and asks for the next tasks.
struct SecureAggregationAbandoned: Error, CustomStringConvertible {
    var stage: String
    var reason: String
    var description: String { "secure aggregation, \(stage) stage: \(reason)" }
}

/// Streams a masked vector (32-bit integers, little-endian as the platform's) from its own storage.
struct MaskedVectorSource: ChunkSource {
    let values: [UInt32]
    var byteCount: Int { values.count * 4 }
    func withBytes(offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try values.withUnsafeBytes { raw in try body(UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + count)])) }
    }
}

// A training task under secure aggregation: keys → roster, shares → envelopes, train, masked
// input → survivors and dropped, reveal. The site sends its update only masked; what the aggregator
// sends back is checked by FLPrivacy's client at each stage.
extension Collaborator {
    /// The context of one secure training task.
    struct SecureTask {
        var offer: SecureAggregationOffer
        /// The round's terms, from the task reply (nil: the aggregator gave none, so no part in it).
        var terms: SecureAggregationTerms?
        var round: Int
        var attempt: Int
        var task: String
        var client: FrameClient

        var parameters: SecureAggregationParameters {
            offer.parameters
        }
    }

    /// A fresh protocol client for the round and its terms, signing with this site's certificate
    /// and believing the federation's CA about the others'.
    private func secureClient(_ context: SecureTask, _ terms: SecureAggregationTerms) throws -> SecureAggregationClient {
        let round = SecureAggregationRound(experiment: settings.experiment, round: context.round, attempt: context.attempt, cohortSize: terms.cohortSize,
                                           vectorLength: terms.vectorLength, weightScale: context.offer.uniformWeights ? nil : terms.weightScale)
        let identity: SecureAggregationIdentity
        let trust: SecureAggregationTrust
        // Three small files once a round, next to a model-sized transfer: not worth keeping in memory.
        do {
            identity = SecureAggregationIdentity(certificate: try Certificate.load(path: settings.tls.certificatePath),
                                                 key: try PrivateKey.load(path: settings.tls.privateKeyPath))
            trust = SecureAggregationTrust(authority: try Certificate.load(path: settings.tls.caCertificatePath))
        } catch {
            throw CollaboratorError("cannot read this site's certificate, key or CA for secure aggregation: \(error)")
        }
        let parameters = context.parameters
        return try guarded("keys") { () throws(SecureAggregationError) in
            try SecureAggregationClient(site: settings.name, round: round, parameters: parameters, identity: identity, trust: trust)
        }
    }

    /// Runs `invocation` on `global` under secure aggregation; returns the local model (for the
    /// validations of it that follow). Throws `SecureAggregationAbandoned` when the round's
    /// secure aggregation ended without this site.
    func trainSecurely(_ invocation: TaskInvocation, global: ModelState, _ context: SecureTask) throws -> TaskOutcome {
        let offer = context.offer
        let parameters = context.parameters
        guard let terms = context.terms else {
            throw SecureAggregationAbandoned(stage: "keys", reason: "the aggregator gave no secure aggregation terms with the training task")
        }
        if revealedRounds.withLock({ $0.contains(context.round) }) {
            throw SecureAggregationAbandoned(stage: "keys", reason: "this site already revealed its shares for round \(context.round) in an "
                                             + "earlier attempt: masking the same update again would let the two sums give it away")
        }
        let secure = try secureClient(context, terms)
        let stageWait = offer.stageTimeout + settings.idleTimeout
        let own = secure.advertisement
        let roster: SecAggRoster = try stage("keys", context, timeout: stageWait, SecAggKeys(
            round: context.round, attempt: context.attempt, encryptionKey: own.encryptionKey, maskingKey: own.maskingKey,
            certificate: own.certificate, signature: own.signature))
        let advertisements = roster.advertisements.map {
            KeyAdvertisement(site: $0.site, encryptionKey: $0.encryptionKey, maskingKey: $0.maskingKey, certificate: $0.certificate, signature: $0.signature)
        }
        let envelopes = try guarded("shares") { () throws(SecureAggregationError) in try secure.shareKeys(roster: advertisements) }
        let sharesReply: SecAggSharesReply = try stage("shares", context, timeout: stageWait, SecAggShares(
            round: context.round, attempt: context.attempt,
            envelopes: envelopes.map { SecAggEnvelope(from: $0.from, to: $0.to, ciphertext: $0.ciphertext, commitment: $0.commitment) }))
        let received = sharesReply.envelopes.map { ShareEnvelope(from: $0.from, to: $0.to, ciphertext: $0.ciphertext, commitment: $0.commitment) }
        Self.injectFault(.beforeMaskedInput)

        let outcome: TaskOutcome
        do {
            outcome = try runner.run(invocation, model: global)
        } catch {
            throw CollaboratorError("task '\(invocation.name)' of round \(context.round) failed: \(error)")
        }
        guard let trained = outcome.model, trained.layout == global.layout else {
            throw CollaboratorError("task '\(invocation.name)' of round \(context.round) produced no model of the experiment's layout")
        }
        var delta = trained.values
        delta.withUnsafeMutableBufferPointer { d in global.values.withUnsafeBufferPointer { g in for i in 0..<d.count { d[i] -= g[i] } } }
        applyDistributedPrivacy(to: &delta)
        try Self.checkWeight(terms, samples: outcome.sampleCount, uniform: offer.uniformWeights)
        let factor = offer.uniformWeights ? 1 : Double(min(outcome.sampleCount, terms.weightCap)) / Double(terms.weightScale)
        let encoding = try guarded("masked inputs") { () throws(SecureAggregationError) in
            try SecureAggregationEncoding(parameters: parameters, cohortSize: terms.cohortSize)
        }
        var generator = SystemRandomNumberGenerator()
        let encoded = delta.withUnsafeBufferPointer { encoding.encode($0, weightFactor: factor, using: &generator) }
        let masked = try guarded("masked inputs") { () throws(SecureAggregationError) in try secure.maskInput(encoded, received: received) }
        // The masked inputs are held for the round's timeout, which the welcome does not say: a day,
        // bounded in practice by the aggregator's answer or the connection's end.
        let unmask: SecAggUnmask = try stage("masked inputs", context, timeout: 86_400, SecAggMaskedInput(
            round: context.round, attempt: context.attempt, task: context.task, sampleCount: outcome.sampleCount, metrics: outcome.metrics,
            count: masked.count), stream: MaskedVectorSource(values: masked))
        Self.injectFault(.afterMaskedInput)

        let shares = try guarded("reveal") { () throws(SecureAggregationError) in
            try secure.reveal(survivors: unmask.survivors, dropped: unmask.dropped)
        }
        // Recorded before the shares leave: once they are out the sum may be unmasked.
        revealedRounds.withLock { _ = $0.insert(context.round) }
        let _: OkReply = try stage("reveal", context, timeout: stageWait, SecAggReveal(
            round: context.round, attempt: context.attempt,
            shares: shares.map { SecAggRevealedShare(owner: $0.owner, kind: $0.kind.rawValue, share: $0.share, salt: $0.salt) }))
        logger.info("round \(context.round): update sent masked among \(roster.advertisements.count) sites; "
                    + "\(unmask.survivors.count) survived, \(unmask.dropped.count) dropped")
        return outcome
    }

    /// Distributed differential privacy, as this site's own plan says: its change is clipped to the
    /// plan's norm and gets its share of the noise before it is encoded, so the aggregator never
    /// sees it unclipped or noiseless, even summed.
    func applyDistributedPrivacy(to delta: inout [Float]) {
        guard let offer = DistributedPrivacyOffer(privacy: settings.differentialPrivacy, secureAggregation: settings.secureAggregation) else { return }
        delta.withUnsafeMutableBufferPointer { d in
            _ = UpdateClipping.clip(d, toNorm: offer.clipNorm)
            var noise = GaussianNoise()
            noise.add(to: d, standardDeviation: offer.noiseStandardDeviation)
        }
    }

    /// Refuses weight terms that would shrink this site's share of the sum below its samples: an
    /// aggregator giving every other site a cap of 0 would make the "sum" one site's update.
    static func checkWeight(_ terms: SecureAggregationTerms, samples: Int, uniform: Bool) throws {
        if uniform {
            guard terms.weightCap == 1, terms.weightScale == 1 else {
                throw SecureAggregationAbandoned(stage: "masked inputs", reason: "uniform weights, but the aggregator gives a weight cap of "
                                                 + "\(terms.weightCap) of \(terms.weightScale)")
            }
            return
        }
        guard terms.weightCap >= 1, terms.weightCap <= terms.weightScale, terms.weightCap >= min(samples, terms.weightScale) else {
            throw SecureAggregationAbandoned(stage: "masked inputs", reason: "the aggregator caps this site's weight at \(terms.weightCap) "
                                             + "of \(terms.weightScale), below its \(samples) samples: the sum could be another site's update alone")
        }
    }

    /// Refuses an aggregator that offers less than this site's plan requires: no secure aggregation,
    /// other parameters, or other distributed noise. Thrown as `CollaboratorError`: asking again
    /// would not change the answer.
    func checkPrivacy(_ welcome: AggregatorWelcome) throws {
        guard let required = settings.secureAggregation else {
            // Noise this site's plan does not ask for would not be added: the ε reported would be backed by nothing.
            if welcome.distributedPrivacy != nil {
                throw CollaboratorError("the aggregator expects distributed differential privacy, which this site's plan does not have")
            }
            return
        }
        guard let offer = welcome.secureAggregation else {
            throw CollaboratorError("this site's plan requires secure aggregation, but the aggregator offers none; no update goes in the clear")
        }
        let offered = offer.parameters
        guard offered == required else {
            throw CollaboratorError("the aggregator offers secure aggregation with threshold \(offered.threshold), clip_range \(offered.clipRange), "
                                    + "\(offered.bits) bits, \(offered.weighting.rawValue) weights; this site's plan says threshold \(required.threshold), "
                                    + "clip_range \(required.clipRange), \(required.bits) bits, \(required.weighting.rawValue) weights")
        }
        let noise = DistributedPrivacyOffer(privacy: settings.differentialPrivacy, secureAggregation: required)
        guard welcome.distributedPrivacy == noise else {
            throw CollaboratorError("the aggregator's distributed noise (\(welcome.distributedPrivacy.map { "clip \($0.clipNorm), σ \($0.noiseStandardDeviation)" } ?? "none")) "
                                    + "is not this site's plan's (\(noise.map { "clip \($0.clipNorm), σ \($0.noiseStandardDeviation)" } ?? "none"))")
        }
    }

    /// Sends one stage's request and returns its reply as `Reply`; an ErrorReply (the stage failed,
    /// or this site is left out) becomes `SecureAggregationAbandoned`.
    private func stage<Reply: WireMessage>(_ name: String, _ context: SecureTask, timeout: Double, _ message: some WireMessage,
                                           stream: (any ChunkSource)? = nil) throws -> Reply {
        let reply: any WireMessage
        do {
            reply = try context.client.call(message, stream: stream, timeout: timeout)
        } catch let error as ErrorReply where error.code == .conflict || error.code == .rejected {
            throw SecureAggregationAbandoned(stage: name, reason: error.message)
        }
        guard let typed = reply as? Reply else {
            throw CollaboratorError("the aggregator answered the secure aggregation \(name) stage with \(type(of: reply))")
        }
        return typed
    }

    /// Runs one of FLPrivacy's client steps; its refusal (what the aggregator sent breaks the
    /// protocol) abandons the round rather than revealing anything more.
    private func guarded<R>(_ stage: String, _ body: () throws(SecureAggregationError) -> R) throws -> R {
        do {
            return try body()
        } catch {
            logger.error("round refused at the secure aggregation \(stage) stage: \(error)")
            throw SecureAggregationAbandoned(stage: stage, reason: "\(error)")
        }
    }

    /// Points where a DEBUG build kills itself, for tests of dropouts at exact moments.
    enum FaultPoint: String {
        /// After the shares went out, before training: the site is dropped (its pairwise masks are removed).
        case beforeMaskedInput = "exit-before-masked-input"
        /// After its masked input was taken (the aggregator answered the stage), before revealing.
        case afterMaskedInput = "exit-after-masked-input"
    }

    /// With `SWIFTFL_FAULT` naming `point`, raises SIGKILL on this process (DEBUG builds only).
    static func injectFault(_ point: FaultPoint) {
        #if DEBUG
        if ProcessInfo.processInfo.environment["SWIFTFL_FAULT"] == point.rawValue { raise(SIGKILL) }
        #endif
    }
}

extension SecureAggregationOffer {
    /// The protocol's parameters the aggregator offers.
    var parameters: SecureAggregationParameters {
        SecureAggregationParameters(threshold: threshold, clipRange: clipRange, bits: bits, weighting: uniformWeights ? .uniform : .samples)
    }
}
