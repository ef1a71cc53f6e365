import Foundation
import Synchronization
import FLCore
import FLTraining
import FLWire

/// The parameter server of one experiment: it serves each round's model to the collaborators,
/// hands out their tasks, folds their updates into the next model as they arrive, and keeps the
/// best and last models.
///
/// Collaborators dial in and long-poll for work: a request for the next round is held until that
/// round exists and answered the moment it does, so no one sleeps on a fixed timer. Every request
/// runs on its connection's own thread. What to do is decided by `RoundMachine` under one lock
/// (`machine`); what it decides (replies, log lines, events, metrics, saves, timers) is carried out
/// after the lock is released (`mutate`), replies on each peer's own writer and saves in order on `saver`.
public final class Aggregator: FrameHandler, @unchecked Sendable {
    public let settings: AggregatorSettings
    public let layout: ModelLayout
    let logger: Logger
    private let metricsLog: MetricsLog
    private let journal: RoundJournal
    /// The rounds the checkpoint resumed from holds, reported again at the start.
    private let recoveredRounds: [RoundInfo]
    let onEvent: @Sendable (AggregatorEvent) -> Void
    let machine: Mutex<RoundMachine<Responder>>
    let staging: UpdateStaging
    /// Buffers masked inputs are received into (model count + 1 values each), as many as
    /// `concurrentUpdates`: with secure aggregation, memory stays bounded whatever the cohort.
    let maskedStaging: UpdateStaging
    /// Writes models and checkpoints off the request threads, in order. Nothing waits for it with
    /// `machine` locked.
    private let saver = DispatchQueue(label: "swiftfl.aggregator.save")
    /// The first save that failed (a checkpoint, `last` or `best`): the experiment cannot succeed.
    private let saveFailure = Mutex<String?>(nil)
    /// How the experiment ended, as reported: decided on `saver` once every save queued before the end has run.
    private let reportedOutcome = Mutex<AggregatorOutcome?>(nil)
    private let timers = DispatchQueue(label: "swiftfl.aggregator.timers")
    private let finished = DispatchSemaphore(value: 0)
    /// Signalled when a collaborator disconnects or is told the experiment is over.
    let peersChanged = DispatchSemaphore(value: 0)
    private let serverBox = Mutex<FrameServer?>(nil)

    /// Runs `body` with the machine locked, then carries out what it decided. What must keep the
    /// order it was decided in (log lines, events, metrics, saves, the outcome) is queued on `saver`
    /// before the lock is released (queueing never blocks); replies and timers go out after.
    func mutate<R: Sendable>(_ body: (inout RoundMachine<Responder>) -> R) -> R {
        let (result, immediate) = machine.withLock { m in
            let result = body(&m)
            let effects = m.takeEffects()
            let ordered = effects.filter(\.keepsOrder)
            if !ordered.isEmpty {
                saver.async { [self] in for effect in ordered { carryOut(effect) } }
            }
            return (result, effects.filter { !$0.keepsOrder })
        }
        for effect in immediate { carryOut(effect) }
        return result
    }

    /// Prepares an experiment from its initial model, or from a checkpoint to resume after a crash.
    public init(settings: AggregatorSettings, initialModel: ModelState, resumeFrom checkpoint: AggregatorCheckpoint? = nil,
                logger: Logger, onEvent: @escaping @Sendable (AggregatorEvent) -> Void = { _ in }) throws {
        for (name, cap) in settings.sampleCaps.sorted(by: { $0.key < $1.key }) {
            guard settings.collaborators.contains(name) else {
                throw AggregationError("sample cap for '\(name)', who is not a collaborator of experiment '\(settings.experiment)'")
            }
            guard cap >= 1 else { throw AggregationError("sample cap of '\(name)' is \(cap); expected at least 1 row") }
        }
        self.settings = settings
        self.layout = initialModel.layout
        self.logger = logger
        self.onEvent = onEvent
        // The metrics and the round journal hold exactly the rounds the checkpoint holds: rounds after
        // it run again (their records, written before a crash, go), and a fresh start starts them afresh.
        let next = checkpoint.map { $0.roundsCompleted + ($0.finalValidationDone ? 1 : 0) } ?? 0
        try MetricsLog.keepRounds(before: next, in: settings.paths.metricsLog)
        self.journal = RoundJournal(checkpointDirectory: settings.paths.checkpointDirectory)
        self.recoveredRounds = try journal.keepRounds(before: next)
        self.metricsLog = try MetricsLog(path: settings.paths.metricsLog)
        self.staging = UpdateStaging(slots: settings.concurrentUpdates, count: initialModel.layout.count)
        self.maskedStaging = UpdateStaging(slots: settings.concurrentUpdates, count: settings.secureAggregation == nil ? 0 : initialModel.layout.count + 1)
        var aggregationSettings = settings.aggregation
        // Updates that outgrow the memory budget spill next to the checkpoints, on the workspace's disk.
        aggregationSettings.spillDirectory = aggregationSettings.spillDirectory ?? settings.paths.checkpointDirectory
        let aggregation = try aggregationSettings.make(layout: initialModel.layout)
        if let checkpoint {
            if let difference = initialModel.layout.difference(from: checkpoint.model.layout) {
                throw AggregationError("checkpoint model does not match the plan's model: \(difference)")
            }
            guard checkpoint.roundsCompleted <= settings.roundsToTrain else {
                throw AggregationError("checkpoint has \(checkpoint.roundsCompleted) rounds completed but the plan trains \(settings.roundsToTrain)")
            }
            try aggregation.restore(checkpoint.aggregationState)
        }
        let bestRound = checkpoint == nil ? nil : BestModelNote.read(besideModel: settings.paths.bestModel)?.round
        var machine = RoundMachine<Responder>(settings: settings, initialModel: initialModel, aggregation: aggregation,
                                              checkpoint: checkpoint, bestRound: bestRound)
        machine.secureAggregationTrust = try Self.secureAggregationTrust(settings)
        self.machine = Mutex(machine)
    }

    /// Starts listening and opens the first round; returns the port listened on.
    @discardableResult
    public func start() throws -> Int {
        var configuration = settings.server
        configuration.allowedPeers = Set(settings.collaborators)
        // Collaborators present their site's Envoy certificate; nobody else trains.
        configuration.allowedRoles = [.envoy]
        let server = try FrameServer(configuration: configuration, handler: self, logger: logger)
        serverBox.withLock { $0 = server }
        onEvent(.listening(port: server.port))
        for summary in recoveredRounds { onEvent(.roundRecovered(summary)) }
        logger.info("experiment '\(settings.experiment)': listening on \(configuration.host):\(server.port) for \(settings.collaborators.count) collaborators")
        mutate { $0.start() }
        return server.port
    }

    /// Blocks until the experiment ends and every connected collaborator has been told so (or
    /// `grace` seconds have passed), then stops the server.
    @discardableResult
    public func wait(grace: Double = 10) -> AggregatorOutcome {
        finished.wait()
        let deadline = Deadline.after(seconds: grace)
        while !deadline.hasPassed {
            if machine.withLock({ $0.everyoneConnectedTold }) { break }
            _ = peersChanged.wait(timeout: .now() + max(0.001, deadline.remainingSeconds))
        }
        stop()
        return reportedOutcome.withLock { $0! }
    }

    /// Stops serving. An experiment still running ends as failed; the collaborators waiting are told
    /// so (for up to a second) before their connections close.
    public func stop() {
        mutate { $0.finish(succeeded: false, reason: "stopped") }
        let deadline = Deadline.after(seconds: 1)
        while !deadline.hasPassed, !machine.withLock({ $0.everyoneConnectedTold }) {
            _ = peersChanged.wait(timeout: .now() + max(0.001, deadline.remainingSeconds))
        }
        let server = serverBox.withLock { $0 }
        server?.stop()
        saver.sync {}
    }

    /// The port being listened on, once started.
    public var port: Int? { serverBox.withLock { $0?.port } }

    /// Drops `name` from the current round and later ones: the Director says its collaborator has
    /// gone (see `RoundMachine.depart`).
    public func depart(_ name: String, reason: String) {
        mutate { $0.depart(name, reason: reason) }
    }

    /// A line on the command channel that is no command.
    func commandRefused(_ line: String) {
        logger.warning("ignored a line on the command channel that is not a command: \(line.prefix(200))")
    }

    // MARK: - Effects

    /// Carries out one effect: replies and timers after `machine` is unlocked, the rest on `saver`
    /// in the order it was decided (`RoundEffect.keepsOrder`).
    private func carryOut(_ effect: RoundEffect<Responder>) {
        switch effect {
        case let .reply(responder, reply):
            responder.post(reply) { [self] in
                guard reply.status == .done else { return }
                machine.withLock { _ = $0.toldDone.insert(responder.peer.name) }
                peersChanged.signal()
            }
        case let .stageReply(responder, message):
            responder.post(message)
        case let .secureAggregationTimer(round, attempt, stage, seconds):
            timers.asyncAfter(deadline: .now() + seconds) { [self] in mutate { $0.secureAggregationTimedOut(round: round, attempt: attempt, stage: stage) } }
        case let .expireRequest(token, seconds):
            timers.asyncAfter(deadline: .now() + seconds) { [self] in mutate { $0.expire(token) } }
        case let .roundTimer(round, attempt, seconds):
            timers.asyncAfter(deadline: .now() + seconds) { [self] in mutate { $0.roundTimedOut(round: round, attempt: attempt) } }
        case let .statisticsTimer(attempt, seconds):
            timers.asyncAfter(deadline: .now() + seconds) { [self] in mutate { $0.statisticsTimedOut(attempt: attempt) } }
        case let .log(level, message, fields):
            logger.log(level, message, fields)
        case let .event(event):
            onEvent(event)
        case let .metrics(records):
            metricsLog.append(records)
        case let .save(save):
            self.save(save)
        case .loadBestModel:
            // After the saves before it: the best model's link has been made.
            let best = loadBestModel()
            timers.async { [self] in mutate { $0.bestModelLoaded(best) } }
        case let .finished(outcome):
            report(outcome)
        }
    }

    /// Runs on `saver`.
    private func save(_ save: RoundSave) {
        let paths = settings.paths
        switch save {
        case let .standardizedModel(checkpoint):
            do {
                let modelPath = try checkpoint.write(to: paths.checkpointDirectory)
                try AtomicFile.link(modelPath, to: paths.lastModel)
            } catch {
                saveFailed("cannot save the model with the federation's standardizer: \(error)")
            }
        case let .roundCheckpoint(checkpoint, summary, after):
            let modelPath: String
            do {
                // The round's summary first: a checkpoint never counts a round its journal lacks.
                try journal.append(summary)
                modelPath = try checkpoint.write(to: paths.checkpointDirectory)
            } catch {
                return saveFailed("cannot save the checkpoint after \(after): \(error)")
            }
            do {
                try AtomicFile.link(modelPath, to: paths.lastModel)
            } catch {
                return saveFailed("cannot save the last model after \(after): \(error)")
            }
            onEvent(.checkpointSaved(roundsCompleted: checkpoint.roundsCompleted))
        case let .bestModel(source, note):
            do {
                try AtomicFile.link(source, to: paths.bestModel)
                try note.write(besideModel: paths.bestModel)
            } catch {
                saveFailed("cannot save the best model (the model round \(note.round) started from, \(note.metric)=\(note.value)): \(error)")
            }
        }
    }

    /// The best model read back for its last validation (on `saver`), or nil when a save failed or it cannot be read.
    private func loadBestModel() -> ModelState? {
        guard saveFailure.withLock({ $0 == nil }) else { return nil }
        do {
            return try Safetensors.read(settings.paths.bestModel).model
        } catch {
            logger.warning("cannot read the best model back for its last validation: \(error)")
            return nil
        }
    }

    /// Called on `saver` when a checkpoint, `last` or `best` could not be written (a full disk, a
    /// quota, a file-size limit): the models are not where the experiment promises them, so it ends
    /// as failed with this reason. Not retried: a full disk rarely clears within seconds.
    private func saveFailed(_ reason: String) {
        logger.error(reason)
        let isFirst = saveFailure.withLock { failure in
            guard failure == nil else { return false }
            failure = reason
            return true
        }
        guard isFirst else { return }
        timers.async { [self] in mutate { $0.saveFailed(reason) } }
    }

    /// Reports how the experiment ended (on `saver`): every save queued before the end has run, so
    /// only now is it known whether the models are on disk, and a success only counts if they are.
    private func report(_ decided: AggregatorOutcome) {
        var outcome = decided
        if let failure = saveFailure.withLock({ $0 }), outcome.reason != failure {
            outcome.reason = outcome.succeeded ? failure : "\(outcome.reason); also \(failure)"
            outcome.succeeded = false
        }
        if outcome.succeeded {
            logger.info("experiment '\(settings.experiment)' \(outcome.reason)")
        } else {
            logger.error("experiment '\(settings.experiment)' failed: \(outcome.reason)")
        }
        reportedOutcome.withLock { $0 = outcome }
        onEvent(.finished(outcome))
        finished.signal()
    }
}
