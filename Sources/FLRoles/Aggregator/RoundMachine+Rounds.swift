import FLCore
import FLTraining
import FLWire

extension RoundMachine {
    /// The tasks of the current phase for each collaborator still taking part.
    func currentAssignments() -> [String: [String]] {
        let available = assignmentsOfPhase().filter { departed[$0.key] == nil }
        guard phase == .training, settings.fractionPerRound < 1 else { return available }
        // Client sampling: this round's share of the sites still taking part.
        let chosen = assigner.sample(Array(available.keys), fraction: settings.fractionPerRound, round: round)
        return available.filter { chosen.contains($0.key) }
    }

    private func assignmentsOfPhase() -> [String: [String]] {
        switch phase {
        case .training:
            return assigner.assignments(round: round).filter { !$0.value.isEmpty }
        case .finalValidation, .bestValidation:
            // Every global-model validation of any group, in plan order, for everyone.
            var tasks: [String] = []
            for group in settings.taskGroups {
                for task in group.tasks where !tasks.contains(task) {
                    if let d = settings.tasks[task], d.function == .validate, d.subject == .global { tasks.append(task) }
                }
            }
            return tasks.isEmpty ? [:] : Dictionary(uniqueKeysWithValues: settings.collaborators.map { ($0, tasks) })
        case .statistics, .loadingBestModel, .done:
            return [:]
        }
    }

    mutating func openRound() {
        if privacyBudgetStops() { return }
        assignments = currentAssignments()
        departedThisRound = []
        if assignments.isEmpty && !departed.isEmpty && phase != .done {
            let gone = departed.keys.sorted().map { "\($0) departed (\(departed[$0]!))" }.joined(separator: "; ")
            return finish(succeeded: false, reason: "no collaborator is left for round \(round): \(gone)")
        }
        if assignments.isEmpty {
            if phase == .finalValidation { return finish(succeeded: true, reason: completionReason) }
            return finish(succeeded: false, reason: "round \(round) has no tasks for any collaborator (check the assigner's task groups)")
        }
        pending = assignments
        completed = []
        updatesFolded = 0
        metricSums = [:]
        siteMetrics = [:]
        roundStart = clock()
        aggregation.begin(global: global)
        prepareSecureAggregation()
        emit(.event(.roundStarted(round: round, attempt: attempt, collaborators: assignments.keys.sorted(), isFinalValidation: phase == .finalValidation)))
        // Wake everyone already waiting for this round.
        let assigned = assignments
        for (request, tasks) in held.take(answering: { assigned[$0.collaborator] }) {
            emit(.reply(request.waiter, TaskReply(status: .run, round: round, tasks: tasks, attempt: attempt,
                                                  secureAggregation: secureTerms(for: request.collaborator, tasks: tasks))))
        }
        if let timeout = settings.straggler.roundTimeout { emit(.roundTimer(round: round, attempt: attempt, after: timeout)) }
        startSecureAggregation()
    }

    private var requiredReports: Int { settings.straggler.minimumReporting.required(of: assignments.count) }

    /// Closes early when enough reported and everyone still missing has disconnected: waiting out
    /// the timeout would change nothing. Only under a policy that allows closing without everyone.
    mutating func closeIfOnlyAbsentRemain() {
        if settings.straggler.roundTimeout == nil { return retryIfOnlyShutOutRemain() }
        guard phase.collectsResults, settings.straggler.roundTimeout != nil, !assignments.isEmpty else { return }
        guard completed.count >= requiredReports else { return }
        let missing = assignments.keys.filter { !completed.contains($0) }
        // A site left out of the attempt's secure aggregation cannot report its training any more either.
        guard !missing.isEmpty, missing.allSatisfy({ (connected[$0] ?? 0) <= 0 || isShutOutOfSecureAggregation($0) }) else { return }
        log(.info, "round \(round): closing without \(missing.sorted().joined(separator: ", ")) (disconnected)")
        closeRound()
    }

    /// The timer of round `round`'s attempt `attempt` fired: the straggler policy decides.
    mutating func roundTimedOut(round: Int, attempt: Int) {
        guard phase.collectsResults, self.round == round, self.attempt == attempt else { return }
        if secureAggregationTakesRoundTimeout() { return }
        let required = requiredReports
        let missing = assignments.keys.filter { !completed.contains($0) }.sorted()
        if completed.count >= required {
            log(.warning, "round \(round) timed out; closing with \(completed.count) of \(assignments.count) collaborators (missing: \(missing.joined(separator: ", ")))")
            return closeRound()
        }
        let why = "round \(round) timed out with \(completed.count) of \(assignments.count) collaborators reported, "
            + "fewer than the minimum \(required) (missing: \(missing.joined(separator: ", ")))"
        if closeAfterUnmaskInsteadOfRetrying(why) { return }
        shortfall(why, retrying: "retrying the round") { $0.openRound() }
    }

    /// Too few reported: the straggler policy tries again (`reopen`) while it has retries left;
    /// otherwise the experiment fails.
    mutating func shortfall(_ why: String, retrying: String, reopen: (inout Self) -> Void) {
        switch settings.straggler.shortfall {
        case let .retry(limit) where attempt < limit:
            attempt += 1
            log(.warning, "\(why); \(retrying) (attempt \(attempt + 1) of \(limit + 1))")
            reopen(&self)
        default:
            finish(succeeded: false, reason: why)
        }
    }

    /// The round's weighted metrics, with its best-model decision and summary; then the next step.
    mutating func closeRound() {
        var metrics: [String: Double] = [:]
        for (id, v) in metricSums where v.weight > 0 { metrics[id] = v.sum / v.weight }
        if phase == .training { metrics.merge(accountPrivacyStep()) { $1 } }
        let isFinal = phase == .finalValidation
        let isBestValidation = phase == .bestValidation
        emit(.metrics(metrics.keys.sorted().map { id in
            let slash = id.firstIndex(of: "/")!
            return MetricRecord(round: round, origin: "aggregator", task: String(id[..<slash]), metric: String(id[id.index(after: slash)...]), value: metrics[id]!)
        }))
        let isBest = !isBestValidation && chooseBest(metrics)
        let missing = (assignments.keys.filter { !completed.contains($0) } + departedThisRound).sorted()
        let summary = RoundInfo(round: round, finalValidation: isFinal, attempt: attempt, metrics: metrics, reported: completed.sorted(),
                                missing: missing, duration: roundStart.elapsedSeconds(at: clock()), best: isBest,
                                bestValidation: isBestValidation, sites: isFinal || isBestValidation ? siteMetrics : [:])
        if isBestValidation {
            // Nothing to aggregate or checkpoint: the best model was only measured.
            emit(.event(.roundClosed(summary)))
            return finish(succeeded: true, reason: completionReason)
        }
        lastMetrics = metrics
        if !isFinal {
            guard aggregateRound() else { return }
            roundsCompleted = round + 1
        }
        emit(.event(.roundClosed(summary)))
        saveCheckpoint(summary: summary, finalValidationDone: isFinal)
        attempt = 0
        pending = [:]
        if isFinal {
            startBestValidation()
        } else if roundsCompleted < settings.roundsToTrain {
            round += 1
            openRound()
        } else if settings.finalValidation {
            round += 1
            phase = .finalValidation
            openRound()
        } else {
            finish(succeeded: true, reason: completionReason)
        }
    }

    /// Whether `metrics` make the model this round started from the best so far (a validation of the
    /// global model measures it); if so, asks for it to be linked as the best model.
    private mutating func chooseBest(_ metrics: [String: Double]) -> Bool {
        guard let value = metrics[settings.bestMetric] else { return false }
        if let best = bestValue, settings.higherIsBetter ? value <= best : value >= best { return false }
        bestValue = value
        bestRound = round
        // The measured model is the one this round was served, already on disk as the previous
        // round's checkpoint (or the initial model): linked rather than written again.
        let note = BestModelNote(round: round, metric: settings.bestMetric, value: value, higherIsBetter: settings.higherIsBetter)
        emit(.save(.bestModel(source: servedModelFile, note: note)))
        return true
    }

    /// Folds the round's aggregate into the global model; false when that ended the experiment.
    private mutating func aggregateRound() -> Bool {
        guard aggregation.totalWeight > 0 else {
            log(.warning, "round \(round): no update was accepted; the model stays as it was")
            return true
        }
        // The preprocess tensors are the federation's standardizer, not trained: they stay. (When the
        // previous round's save still holds the model, this copies it rather than wait for the disk.)
        let frozen = frozenRanges.map { Array(global.values[$0]) }
        let control = controlRanges.map { Array(global.values[$0]) }
        aggregation.finish(into: &global)
        addPrivacyNoise()
        for (range, values) in zip(frozenRanges, frozen) { global.values.replaceSubrange(range, with: values) }
        // SCAFFOLD: c ← c + (|S|/N)·mean(Δcᵢ); the average gave c + mean(Δcᵢ).
        let share = Float(updatesFolded) / Float(max(1, settings.collaborators.count))
        if share < 1 {
            for (range, old) in zip(controlRanges, control) {
                for (k, i) in range.enumerated() { global.values[i] = old[k] + share * (global.values[i] - old[k]) }
            }
        }
        guard let bad = global.firstNonFinite else { return true }
        // Every update was finite and so was their sum, yet the function's step was not (e.g. FedAvgM
        // with an absurd server learning rate). The model is broken: never save or serve it; the last
        // checkpoint stays the last good model.
        finish(succeeded: false, reason: "the model aggregated from the updates of round \(round) is not finite (tensor '\(bad.tensor)' "
               + "holds \(bad.value) at element \(bad.element)); it was neither saved nor served (check the aggregation "
               + "settings, e.g. server_learning_rate)")
        return false
    }

    /// Asks for the checkpoint of the rounds completed so far (written in the background, in order);
    /// the next round's model is served from that file's contents.
    private mutating func saveCheckpoint(summary: RoundInfo, finalValidationDone: Bool) {
        let checkpoint = AggregatorCheckpoint(experiment: settings.experiment, roundsCompleted: roundsCompleted,
                                              finalValidationDone: finalValidationDone, model: global,
                                              bestValue: bestValue, aggregationState: aggregation.state, modelMetadata: settings.modelMetadata)
        servedModelFile = "\(settings.paths.checkpointDirectory)/\(AggregatorCheckpoint.modelFileName(roundsCompleted: roundsCompleted))"
        let after = finalValidationDone ? "the final validation" : "round \(roundsCompleted)"
        emit(.save(.roundCheckpoint(checkpoint, summary: summary, after: after)))
    }

    /// After the final validation, when the best model is another than the final one: it is read back
    /// (after the saves before it) to be validated once more by every site. Otherwise the experiment is done.
    private mutating func startBestValidation() {
        guard let bestRound, bestRound != round else { return finish(succeeded: true, reason: completionReason) }
        phase = .loadingBestModel
        emit(.loadBestModel)
    }

    /// The best model read back for its last validation, or nil when it could not be (then the
    /// experiment ends with the final model's numbers alone).
    mutating func bestModelLoaded(_ best: ModelState?) {
        guard phase == .loadingBestModel else { return }
        guard let best, best.layout == layout else { return finish(succeeded: true, reason: completionReason) }
        servedOverride = best
        phase = .bestValidation
        round += 1
        openRound()
    }

    /// Ends the experiment: everyone waiting is told, and the outcome is reported once the saves
    /// before it have run.
    mutating func finish(succeeded: Bool, reason: String) {
        guard outcome == nil else { return }
        phase = .done
        abandonSecureAggregation(succeeded ? "the experiment is over" : reason)
        let outcome = AggregatorOutcome(succeeded: succeeded, reason: reason, roundsCompleted: roundsCompleted,
                                        bestValue: bestValue, finalMetrics: lastMetrics)
        self.outcome = outcome
        for request in held.takeAll() {
            emit(.reply(request.waiter, TaskReply(status: .done, round: round, reason: succeeded ? "" : reason)))
        }
        emit(.finished(outcome))
    }
}
