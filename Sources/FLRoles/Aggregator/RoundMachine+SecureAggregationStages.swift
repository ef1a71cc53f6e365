import FLCore
import FLPrivacy
import FLWire

// Closing secure aggregation's stages: the held requests get the next stage's input, or, below the
// threshold, an ErrorReply while the round fails; the last stage unmasks and folds the sum.
extension RoundMachine {
    /// Closes the current stage with whoever sent, and opens the next.
    mutating func closeStage() {
        guard let session = secureSession, let plan = settings.secureAggregation else { return }
        do throws(SecureAggregationError) {
            switch session.stage {
            case .keys:
                let roster = try secureSession!.server.closeAdvertisements()
                let advertisements = roster.map {
                    SecAggAdvertisement(site: $0.site, encryptionKey: $0.encryptionKey, maskingKey: $0.maskingKey, certificate: $0.certificate,
                                        signature: $0.signature)
                }
                for (_, waiter) in session.held.sorted(by: { $0.key < $1.key }) {
                    emit(.stageReply(waiter, SecAggRoster(round: session.round, attempt: session.attempt, advertisements: advertisements)))
                }
                secureSession!.advance(to: .shares, expecting: roster.map(\.site))
                emit(.secureAggregationTimer(round: session.round, attempt: session.attempt, stage: .shares, after: plan.stageTimeout))
            case .shares:
                let senders = try secureSession!.server.closeShares()
                for (site, waiter) in session.held.sorted(by: { $0.key < $1.key }) {
                    let envelopes = secureSession!.server.envelopes(for: site).map {
                        SecAggEnvelope(from: $0.from, to: $0.to, ciphertext: $0.ciphertext, commitment: $0.commitment)
                    }
                    emit(.stageReply(waiter, SecAggSharesReply(round: session.round, attempt: session.attempt, envelopes: envelopes)))
                }
                // No stage timer: the sites train now; the round's timer bounds this stage.
                secureSession!.advance(to: .maskedInputs, expecting: senders)
            case .maskedInputs:
                let (survivors, dropped) = try secureSession!.server.closeMaskedInputs()
                for (_, waiter) in session.held.sorted(by: { $0.key < $1.key }) {
                    emit(.stageReply(waiter, SecAggUnmask(round: session.round, attempt: session.attempt, survivors: survivors, dropped: dropped)))
                }
                if !dropped.isEmpty {
                    log(.warning, "round \(round): \(dropped.joined(separator: ", ")) sent shares but no masked input; unmasking without them")
                }
                secureSession!.advance(to: .reveal, expecting: survivors)
                emit(.secureAggregationTimer(round: session.round, attempt: session.attempt, stage: .reveal, after: plan.stageTimeout))
            case .reveal:
                return try unmaskAndFold()
            case .done:
                return
            }
        } catch {
            return failSecureAggregation(error)
        }
        // A stage whose sites have all gone already closes at once (below the threshold, it fails).
        if let next = secureSession, next.stage != .done, next.isStageComplete { closeStage() }
    }

    /// The stage failed (below the threshold, or a protocol or share failure the sum cannot survive):
    /// logged naming the stage and the missing sites, held requests answered with an ErrorReply, and
    /// the straggler policy's shortfall applies (the round again with fresh keys, or the experiment fails).
    mutating func failSecureAggregation(_ error: SecureAggregationError) {
        guard var session = secureSession else { return }
        let stage = session.stage
        let missing = session.missing
        let missingText = missing.isEmpty ? "" : " (missing: \(missing.joined(separator: ", ")))"
        let why = "secure aggregation of round \(session.round) failed at the \(stage.rawValue) stage: \(error.message)\(missingText)"
            + (error.kind == .belowThreshold ? " — below its threshold \(settings.secureAggregation?.parameters.threshold ?? 0)" : "")
        for site in error.sites where error.kind == .badShare {
            log(.warning, "round \(session.round): \(site) revealed a share that fails its commitment", ["peer": site])
            emit(.event(.updateRejected(collaborator: site, reason: "secure aggregation, round \(session.round): a revealed share fails its commitment")))
        }
        for (_, waiter) in session.held.sorted(by: { $0.key < $1.key }) { emit(.stageReply(waiter, ErrorReply(.conflict, why))) }
        session.held = [:]
        session.stage = .done
        secureSession = session
        log(.error, why)
        shortfall(why, retrying: "retrying the round with fresh keys") { $0.openRound() }
    }

    /// Stage 4's end: the server removes every mask; the sum is decoded into Σ f·Δ and Σ f, and the
    /// round's FedAvg gets global + Σ f·Δ / Σ f with weight Σ f (the only update it sees). The
    /// survivors' training tasks count as reported, with their metrics; the round closes as usual.
    private mutating func unmaskAndFold() throws(SecureAggregationError) {
        guard let plan = settings.secureAggregation, var session = secureSession else { return }
        let unmasked = try session.server.unmask()
        session.stage = .done
        session.unmasked = true
        session.held = [:]
        secureSession = session
        for site in unmasked.badShares {
            log(.warning, "round \(session.round): \(site) revealed a share that fails its commitment; it was left out of the unmasking", ["peer": site])
            emit(.event(.updateRejected(collaborator: site, reason: "secure aggregation, round \(session.round): a revealed share fails its commitment")))
        }
        let encoding = try SecureAggregationEncoding(parameters: plan.parameters, cohortSize: session.cohort.count)
        let (values, weightSum) = try encoding.decode(unmasked.sum, contributors: unmasked.contributors.count)
        if weightSum > 0, values.count == layout.count {
            var model = global.values
            let scale = 1 / weightSum
            for i in model.indices { model[i] = Float(Double(model[i]) + Double(values[i]) * scale) }
            switch aggregation.add(&model, weight: weightSum) {
            case .added: updatesFolded += unmasked.contributors.count
            case let .refused(index):
                log(.error, "round \(round): the unmasked sum is not finite at value \(index); the model stays as it was")
            case let .notKept(reason):
                log(.error, "round \(round): could not keep the unmasked sum: \(reason)")
            }
        } else {
            log(.warning, "round \(round): the unmasked weights sum to \(weightSum); the model stays as it was")
        }
        log(.info, "round \(round): unmasked the sum of \(unmasked.contributors.count) sites (\(unmasked.contributors.joined(separator: ", ")))")
        let currentRound = round
        for site in unmasked.contributors {
            guard let outcome = session.outcomes[site] else { continue }
            let result = TaskResultMessage(round: outcome.round, task: outcome.task, sampleCount: outcome.sampleCount, metrics: outcome.metrics, layout: nil)
            record(result, from: site, weight: min(outcome.sampleCount, settings.sampleCaps[site] ?? .max))
            // Recording the last report may have closed the round (and opened the next).
            guard round == currentRound, phase == .training else { return }
        }
        closeIfOnlyAbsentRemain()
    }
}
