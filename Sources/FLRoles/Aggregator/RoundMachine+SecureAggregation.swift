import FLCore
import FLPrivacy
import FLWire

// Secure aggregation's stages, decided under the machine's lock like everything else. Each stage
// request is checked as an attacker would send it (sender = certificate name, round and attempt
// current, the stage open, the sender expected in it and not heard from yet) and then held until the
// stage closes: when everyone it counts on has sent, when departures shrink that set, or at the stage
// timeout (the masked inputs wait for the round's timeout). Below the threshold the round fails and
// the straggler policy's shortfall applies.
extension RoundMachine {
    /// Prepares the attempt's secure aggregation among the sites with a training task (in
    /// `openRound`, during training, when the plan turns it on), before their tasks are handed out
    /// with its terms; `startSecureAggregation` then opens its first stage.
    mutating func prepareSecureAggregation() {
        abandonSecureAggregation("round \(round) attempt \(attempt + 1) has begun")
        guard phase == .training, let plan = settings.secureAggregation else { return }
        var trainTasks: [String: String] = [:]
        for (site, tasks) in assignments {
            if let task = tasks.first(where: { settings.tasks[$0]?.function == .train }) { trainTasks[site] = task }
        }
        guard !trainTasks.isEmpty else { return }
        let (caps, scale) = Self.weights(plan.parameters.weighting, sites: trainTasks.keys.sorted(), settings: settings)
        let vectorLength = SecureAggregationEncoding.encodedCount(values: layout.count)
        let terms = SecureAggregationRound(experiment: settings.experiment, round: round, attempt: attempt, cohortSize: trainTasks.count,
                                           vectorLength: vectorLength, weightScale: plan.parameters.weighting == .samples ? scale : nil)
        let server = SecureAggregationServer(round: terms, parameters: plan.parameters, cohort: trainTasks.keys.sorted(), vectorLength: vectorLength,
                                             trust: secureAggregationTrust)
        secureSession = SecureAggregationSession(round: round, attempt: attempt, trainTasks: trainTasks, weightCaps: caps, weightScale: scale,
                                                 vectorLength: vectorLength, server: server)
        let weighting = plan.parameters.weighting == .uniform ? "uniform weights"
            : "weights min(samples, cap)/\(scale), caps " + caps.keys.sorted().map { "\($0)=\(caps[$0]!)" }.joined(separator: " ")
        log(.info, "round \(round) (attempt \(attempt + 1)): secure aggregation among \(trainTasks.keys.sorted().joined(separator: ", ")) "
            + "(threshold \(plan.parameters.threshold), \(weighting))")
    }

    /// Opens the prepared session's keys stage (the end of `openRound`), or fails the attempt at once
    /// when fewer sites train than the threshold.
    mutating func startSecureAggregation() {
        guard let session = secureSession, session.stage == .keys, let plan = settings.secureAggregation else { return }
        let trainTasks = session.trainTasks
        if trainTasks.count < plan.parameters.threshold {
            return failSecureAggregation(SecureAggregationError(kind: .belowThreshold, sites: [], message: "only \(trainTasks.count) sites train "
                                                                 + "this round, fewer than the threshold \(plan.parameters.threshold)"))
        }
        emit(.secureAggregationTimer(round: round, attempt: attempt, stage: .keys, after: plan.stageTimeout))
    }

    /// Each site's weight cap and the common scale: with `samples`, the rows its site registered
    /// (`sampleCaps`) or, without a registration, the plan's `max_sample_count`; the scale is the
    /// largest cap, so every weight factor lies in [0, 1]. With `uniform`, 1 and 1.
    static func weights(_ weighting: SecureAggregationParameters.Weighting, sites: [String], settings: AggregatorSettings) -> ([String: Int], Int) {
        guard weighting == .samples else { return (Dictionary(uniqueKeysWithValues: sites.map { ($0, 1) }), 1) }
        let caps = Dictionary(uniqueKeysWithValues: sites.map { ($0, max(1, min(settings.sampleCaps[$0] ?? settings.maximumSampleCount, settings.maximumSampleCount))) })
        return (caps, caps.values.max() ?? 1)
    }

    /// Why a stage request cannot be taken now, or nil: the attempt must be the current one, the
    /// stage open, the sender one the stage counts on and not heard from yet.
    func stageRefusal(_ stage: SecureAggregationStage, round: Int, attempt: Int, from name: String) -> ErrorReply? {
        guard let session = secureSession, phase == .training else {
            return ErrorReply(.conflict, "no secure aggregation is under way (round \(self.round))")
        }
        guard round == session.round, attempt == session.attempt else {
            return ErrorReply(.conflict, "\(stage.rawValue) for round \(round) attempt \(attempt + 1), but the current one is round "
                              + "\(session.round) attempt \(session.attempt + 1)")
        }
        guard session.trainTasks[name] != nil else { return ErrorReply(.rejected, "'\(name)' does not train in round \(round)") }
        guard session.stage == stage else {
            return ErrorReply(.conflict, "the \(stage.rawValue) stage of round \(round) is not open (now: \(session.stage.rawValue))")
        }
        if session.received.contains(name) { return ErrorReply(.rejected, "'\(name)' already sent its \(stage.rawValue) for round \(round)") }
        guard session.expected.contains(name) else {
            return ErrorReply(.rejected, "'\(name)' was left out of round \(round)'s secure aggregation at an earlier stage")
        }
        return nil
    }

    /// Stage 1: `name`'s public keys; held until the roster is complete.
    mutating func receiveKeys(_ keys: SecAggKeys, from name: String, waiter: Waiter) {
        if let refusal = stageRefusal(.keys, round: keys.round, attempt: keys.attempt, from: name) { return refuse(waiter, refusal, from: name) }
        let advertisement = KeyAdvertisement(site: name, encryptionKey: keys.encryptionKey, maskingKey: keys.maskingKey,
                                             certificate: keys.certificate, signature: keys.signature)
        do throws(SecureAggregationError) {
            try secureSession!.server.receiveAdvertisement(advertisement, from: name)
        } catch {
            return refuse(waiter, ErrorReply(.rejected, "keys refused: \(error.message)"), from: name)
        }
        accept(waiter, from: name)
    }

    /// Stage 2: `name`'s share envelopes (at most one per other cohort member); held until every
    /// roster member's are in.
    mutating func receiveShares(_ shares: SecAggShares, from name: String, waiter: Waiter) {
        if let refusal = stageRefusal(.shares, round: shares.round, attempt: shares.attempt, from: name) { return refuse(waiter, refusal, from: name) }
        guard shares.envelopes.count < secureSession!.cohort.count else {
            return refuse(waiter, ErrorReply(.rejected, "\(shares.envelopes.count) envelopes for a cohort of \(secureSession!.cohort.count)"), from: name)
        }
        let envelopes = shares.envelopes.map { ShareEnvelope(from: $0.from, to: $0.to, ciphertext: $0.ciphertext, commitment: $0.commitment) }
        do throws(SecureAggregationError) {
            try secureSession!.server.receiveShares(envelopes, from: name)
        } catch {
            return refuse(waiter, ErrorReply(.rejected, "shares refused: \(error.message)"), from: name)
        }
        accept(waiter, from: name)
    }

    /// Stage 3, before the vector is read: whether `input` (announcing `streamBytes` bytes) can be
    /// taken: its task is the sender's training task, the vector has the model's count + 1 values,
    /// its sample count is plausible and its metrics finite.
    func judgeMaskedInput(_ input: SecAggMaskedInput, from name: String, streamBytes: Int?) -> ErrorReply? {
        if let refusal = stageRefusal(.maskedInputs, round: input.round, attempt: input.attempt, from: name) { return refusal }
        guard secureSession!.trainTasks[name] == input.task else {
            return ErrorReply(.rejected, "task '\(input.task)' is not the training task of '\(name)' in round \(input.round)")
        }
        guard input.count == layout.count + 1, streamBytes == input.count * 4 else {
            return ErrorReply(.rejected, "a masked input of \(input.count) values in \(streamBytes ?? 0) bytes; expected \(layout.count + 1) "
                              + "values (the model's and the weight) in \((layout.count + 1) * 4) bytes")
        }
        guard input.sampleCount > 0, input.sampleCount <= settings.maximumSampleCount else {
            return ErrorReply(.rejected, "sample count \(input.sampleCount) is outside 1...\(settings.maximumSampleCount)")
        }
        if let (metric, value) = input.metrics.first(where: { !$0.value.isFinite }) {
            return ErrorReply(.rejected, "metric '\(metric)' is \(value)")
        }
        return nil
    }

    /// Stage 3: `name`'s masked vector (read outside the lock), added into the running sum at once;
    /// the request is held until every site whose shares went out has sent or gone.
    /// Reserves `name`'s one upload in flight (after `judgeMaskedInput` accepted its announcement).
    mutating func reserveMaskedUpload(from name: String) -> ErrorReply? {
        guard secureSession != nil else { return nil }
        guard secureSession!.uploading.insert(name).inserted else {
            return ErrorReply(.conflict, "a masked input from '\(name)' is already arriving")
        }
        return nil
    }

    /// `name`'s upload ended without reaching the machine (the stream was lost).
    mutating func releaseMaskedUpload(from name: String) {
        secureSession?.uploading.remove(name)
    }

    mutating func receiveMaskedInput(_ input: SecAggMaskedInput, values: UnsafeBufferPointer<UInt32>, from name: String, waiter: Waiter) {
        secureSession?.uploading.remove(name)
        if let refusal = judgeMaskedInput(input, from: name, streamBytes: values.count * 4) { return refuse(waiter, refusal, from: name) }
        do throws(SecureAggregationError) {
            try secureSession!.server.receiveMaskedInput(values, from: name)
        } catch {
            return refuse(waiter, ErrorReply(.rejected, "masked input refused: \(error.message)"), from: name)
        }
        secureSession!.outcomes[name] = input
        accept(waiter, from: name)
    }

    /// Stage 4: `name`'s revealed shares, answered at once; the round unmasks when every survivor
    /// has revealed (or gone, or at the stage timeout with enough).
    mutating func receiveReveal(_ reveal: SecAggReveal, from name: String, waiter: Waiter) {
        if let refusal = stageRefusal(.reveal, round: reveal.round, attempt: reveal.attempt, from: name) { return refuse(waiter, refusal, from: name) }
        guard reveal.shares.count <= secureSession!.cohort.count else {
            return refuse(waiter, ErrorReply(.rejected, "\(reveal.shares.count) shares for a cohort of \(secureSession!.cohort.count)"), from: name)
        }
        var shares: [RevealedShare] = []
        for share in reveal.shares {
            guard let kind = RevealedShare.Kind(rawValue: share.kind) else {
                return refuse(waiter, ErrorReply(.rejected, "share kind \(share.kind) is unknown"), from: name)
            }
            shares.append(RevealedShare(owner: share.owner, kind: kind, share: share.share, salt: share.salt))
        }
        do throws(SecureAggregationError) {
            try secureSession!.server.receiveReveal(shares, from: name)
        } catch {
            return refuse(waiter, ErrorReply(.rejected, "reveal refused: \(error.message)"), from: name)
        }
        emit(.stageReply(waiter, OkReply()))
        secureSession!.received.insert(name)
        if secureSession!.isStageComplete { closeStage() }
    }

    private mutating func refuse(_ waiter: Waiter, _ refusal: ErrorReply, from name: String) {
        log(.warning, "secure aggregation: refused \(name): \(refusal.message)", ["peer": name])
        emit(.event(.updateRejected(collaborator: name, reason: "secure aggregation, round \(round): \(refusal.message)")))
        emit(.stageReply(waiter, refusal))
    }

    private mutating func accept(_ waiter: Waiter, from name: String) {
        secureSession!.held[name] = waiter
        secureSession!.received.insert(name)
        if secureSession!.isStageComplete { closeStage() }
    }

    /// `name` departed or its last connection closed: no stage waits for it any more (its held
    /// request, if any, has nobody to answer).
    mutating func secureAggregationLost(_ name: String) {
        guard var session = secureSession, session.stage != .done, session.trainTasks[name] != nil else { return }
        session.gone.insert(name)
        session.held.removeValue(forKey: name)
        if !session.received.contains(name) { session.expected.remove(name) }
        secureSession = session
        if secureSession!.isStageComplete { closeStage() }
    }

    /// A stage timer fired: the stage closes with whoever sent, if it is still the one timed.
    mutating func secureAggregationTimedOut(round: Int, attempt: Int, stage: SecureAggregationStage) {
        guard let session = secureSession, session.round == round, session.attempt == attempt, session.stage == stage else { return }
        log(.warning, "round \(round): the secure aggregation \(stage.rawValue) stage timed out without \(session.missing.joined(separator: ", "))")
        closeStage()
    }

    /// The round's timer fired while a stage is open: that stage closes with whoever sent (the
    /// masked inputs wait for exactly this). True when secure aggregation took the timeout.
    mutating func secureAggregationTakesRoundTimeout() -> Bool {
        guard let session = secureSession, session.stage != .done else { return false }
        log(.warning, "round \(round): timed out in the secure aggregation \(session.stage.rawValue) stage without \(session.missing.joined(separator: ", "))")
        closeStage()
        // The timer is set again, so that the round's straggler decision still comes once the
        // session is over (the masked inputs wait for it; after them, sites that never reported
        // would otherwise hold the round forever).
        if let plan = settings.secureAggregation {
            emit(.roundTimer(round: session.round, attempt: session.attempt, after: plan.stageTimeout))
        }
        return true
    }

    /// Once an attempt's sum was unmasked the round is never run again: a second unmasked sum of the
    /// same updates over another set of sites would give away their difference — one site's update.
    /// The round closes with the sites it has instead, whatever `minimum_reporting` says (secure
    /// aggregation's threshold bounded how few). True when it closed.
    mutating func closeAfterUnmaskInsteadOfRetrying(_ why: String) -> Bool {
        guard phase == .training, secureSession?.unmasked == true else { return false }
        log(.warning, "\(why); closing the round with the sites it has rather than retrying it: a second unmasked sum of "
            + "the same updates would give away the difference")
        closeRound()
        return true
    }

    /// Ends the session (a new attempt, the experiment's end): its held requests are answered with
    /// an ErrorReply saying why.
    mutating func abandonSecureAggregation(_ reason: String) {
        guard let session = secureSession else { return }
        secureSession = nil
        for (_, waiter) in session.held.sorted(by: { $0.key < $1.key }) {
            emit(.stageReply(waiter, ErrorReply(.conflict, "secure aggregation of round \(session.round) is over: \(reason)")))
        }
    }

    /// The terms `name` trains under when `tasks` holds its training task of the current session.
    func secureTerms(for name: String, tasks: [String]) -> SecureAggregationTerms? {
        guard let session = secureSession, let train = session.trainTasks[name], tasks.contains(train) else { return nil }
        return session.terms(for: name)
    }

    /// `tasks` (pending for `name`) less its training task once it can no longer start it: after it
    /// sent its keys (its masked input is reported when the round unmasks; a site that reconnected
    /// mid-protocol cannot rejoin the attempt) or after the keys stage closed.
    func tasksToHandOut(_ tasks: [String], to name: String) -> [String] {
        guard let session = secureSession, let train = session.trainTasks[name] else { return tasks }
        if session.stage == .keys && !session.received.contains(name) { return tasks }
        return tasks.filter { $0 != train }
    }

    /// Without a round timeout a round waits for everyone, but a site left out of the attempt's
    /// secure aggregation can never report its training: once everyone else has, the attempt falls
    /// short and the straggler policy retries it (with fresh keys, the site included again) or fails.
    mutating func retryIfOnlyShutOutRemain() {
        guard phase == .training, let session = secureSession, session.stage == .done, !assignments.isEmpty else { return }
        let missing = assignments.keys.filter { !completed.contains($0) }.sorted()
        guard !missing.isEmpty, missing.allSatisfy({ session.shutOut.contains($0) }) else { return }
        let why = "round \(round): \(missing.joined(separator: ", ")) left out of secure aggregation cannot report its training, "
            + "and the plan waits for every site (no round_timeout)"
        if closeAfterUnmaskInsteadOfRetrying(why) { return }
        shortfall(why, retrying: "retrying the round with fresh keys") { $0.openRound() }
    }

    /// Whether `name` can no longer finish its training task this attempt (left out of a stage).
    func isShutOutOfSecureAggregation(_ name: String) -> Bool {
        secureSession?.shutOut.contains(name) ?? false
    }
}
