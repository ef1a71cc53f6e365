import Foundation
import FLCore
import FLTraining
import FLPrivacy
import FLWire

/// The aggregator's decisions — which tasks go to whom, when a round closes, what the straggler
/// policy does, which model is best, when the experiment ends — as a function of its state and
/// each input. It does no I/O: whatever should happen outside (a reply, a log line, an event,
/// metrics, a save, a timer) is queued as a `RoundEffect`, which its owner takes with
/// `takeEffects()` and carries out after releasing its lock. Tests drive it without sockets.
///
/// `Waiter` is whatever answers a request for tasks later (the Aggregator's `Responder`).
struct RoundMachine<Waiter> {
    enum Phase: Equatable {
        /// Before the first round: the sites' feature statistics come in, and the federation's
        /// standardizer goes into the model (`settings.standardizationFeatures`).
        case statistics
        case training
        case finalValidation
        /// The final validation is over and the best model is another: it is being read back.
        case loadingBestModel
        /// After the final validation: the best model, measured once more by every site, so each
        /// site's numbers for it stand beside the final model's.
        case bestValidation
        case done

        /// Whether the phase runs rounds whose results are collected.
        var collectsResults: Bool { self == .training || self == .finalValidation || self == .bestValidation }
    }

    /// A held request for tasks.
    struct HeldTaskRequest {
        var collaborator: String
        var waiter: Waiter
    }

    let settings: AggregatorSettings
    let layout: ModelLayout
    let assigner: TaskAssigner
    /// Where the preprocess tensors sit in the model: kept as they are when updates are averaged.
    let frozenRanges: [Range<Int>]
    /// SCAFFOLD's control tensors (`ScaffoldControl`): averaged with the model, then scaled by the
    /// share of the sites whose updates made the average.
    let controlRanges: [Range<Int>]
    /// The monotonic clock (a round's duration); tests may give their own.
    let clock: @Sendable () -> Deadline

    var phase: Phase = .training
    var round = 0
    var attempt = 0
    var global: ModelState
    var aggregation: any AggregationFunction
    var assignments: [String: [String]] = [:]
    var pending: [String: [String]] = [:]
    var completed: Set<String> = []
    /// Updates folded into this round's aggregate.
    var updatesFolded = 0
    var metricSums: [String: (sum: Double, weight: Double)] = [:]
    var held = HeldRequests<HeldTaskRequest>()
    var roundStart: Deadline
    var bestValue: Double?
    var connected: [String: Int] = [:]
    /// Collaborators whose `done` reply has been written (not merely decided: the Aggregator stops its
    /// server once everyone connected is in here, which must not cut a reply still on its way out).
    var toldDone: Set<String> = []
    var outcome: AggregatorOutcome?
    var lastMetrics: [String: Double] = [:]
    var roundsCompleted = 0
    /// The file holding `global` as it was served this round (initial model or last checkpoint).
    var servedModelFile: String
    /// The round whose starting model is the best so far (`rounds_to_train` when it is the final model).
    var bestRound: Int?
    /// Each site's metrics in the current round (`task/metric` → value).
    var siteMetrics: [String: [String: Double]] = [:]
    /// The model served in place of `global` (the best model, during its validation).
    var servedOverride: ModelState?
    /// The statistics each site sent, and why the others declined, during the statistics phase.
    var featureStatistics: [String: FeatureStatistics] = [:]
    var declinedStatistics: [String: String] = [:]
    /// Collaborators that departed (their collaborator exited or their Envoy went offline), with
    /// why: no further tasks for them unless they connect again.
    var departed: [String: String] = [:]
    /// Those that departed during the current round, counted as missing from it.
    var departedThisRound: Set<String> = []
    /// The current attempt's secure aggregation, when the plan turns it on (`RoundMachine+SecureAggregation`).
    var secureSession: SecureAggregationSession<Waiter>?
    /// Whom the secure aggregation server believes about the sites' certificates (the federation's
    /// CA, set by the Aggregator); nil: signatures are checked against the certificates sent.
    var secureAggregationTrust: SecureAggregationTrust?
    /// Differential privacy's accountant and noise (nil: off).
    var privacy: RoundPrivacy?
    private var effects: [RoundEffect<Waiter>] = []

    /// A machine before its first round, or resuming from `checkpoint` (already checked against the
    /// plan's model); `bestRound` is the round of the best model found on disk.
    init(settings: AggregatorSettings, initialModel: ModelState, aggregation: any AggregationFunction,
         checkpoint: AggregatorCheckpoint?, bestRound: Int?, clock: @escaping @Sendable () -> Deadline = { .now }) {
        self.settings = settings
        self.layout = initialModel.layout
        self.assigner = TaskAssigner(groups: settings.taskGroups, collaborators: settings.collaborators, seed: settings.assignerSeed)
        let tensors = initialModel.layout.tensors
        self.frozenRanges = tensors.indices.filter { Standardizer.isPreprocessTensor(tensors[$0].name) }.map { initialModel.layout.range(at: $0) }
        self.controlRanges = tensors.indices.filter { ScaffoldControl.isControlTensor(tensors[$0].name) }.map { initialModel.layout.range(at: $0) }
        self.clock = clock
        self.global = initialModel
        self.aggregation = Self.clippingForPrivacy(aggregation, settings)
        self.roundStart = clock()
        self.servedModelFile = settings.paths.initialModel
        if settings.standardizationFeatures != nil && checkpoint == nil { phase = .statistics }
        privacy = settings.differentialPrivacy.map {
            RoundPrivacy(parameters: $0, samplingRate: settings.fractionPerRound, roundsCompleted: checkpoint?.roundsCompleted ?? 0)
        }
        guard let checkpoint else { return }
        global = checkpoint.model
        round = checkpoint.roundsCompleted
        roundsCompleted = checkpoint.roundsCompleted
        bestValue = checkpoint.bestValue
        self.bestRound = checkpoint.bestValue == nil ? nil : bestRound
        servedModelFile = "\(settings.paths.checkpointDirectory)/\(AggregatorCheckpoint.modelFileName(roundsCompleted: checkpoint.roundsCompleted))"
        // (A final validation done before the last round: the privacy budget stopped training.)
        if checkpoint.roundsCompleted == settings.roundsToTrain || checkpoint.finalValidationDone {
            phase = checkpoint.finalValidationDone || !settings.finalValidation ? .done : .finalValidation
        }
    }

    /// The effects decided since the last call, in order.
    mutating func takeEffects() -> [RoundEffect<Waiter>] {
        defer { effects = [] }
        return effects
    }

    mutating func emit(_ effect: RoundEffect<Waiter>) { effects.append(effect) }

    mutating func log(_ level: LogLevel, _ message: String, _ fields: [String: String] = [:]) {
        effects.append(.log(level, message, fields))
    }

    // MARK: - Inputs

    /// The server is listening: the first round (or the statistics phase) opens.
    mutating func start() {
        switch phase {
        case .done: finish(succeeded: true, reason: "already complete (resumed after the last round)")
        case .statistics: openStatistics()
        default: openRound()
        }
    }

    /// A connection from `name`; returns why it had departed when it had (its Envoy started it again).
    mutating func connect(_ name: String) -> String? {
        connected[name, default: 0] += 1
        return departed.removeValue(forKey: name)
    }

    /// A connection from `name` closed; `isItsWaiter` picks the requests it held.
    mutating func disconnect(_ name: String, isItsWaiter: (Waiter) -> Bool) {
        connected[name, default: 1] -= 1
        held.removeAll { $0.collaborator == name && isItsWaiter($0.waiter) }
        if connected[name, default: 0] <= 0 { secureAggregationLost(name) }
        closeIfOnlyAbsentRemain()
    }

    /// Whether every collaborator still connected has been told the experiment is over.
    var everyoneConnectedTold: Bool {
        connected.filter { $0.value > 0 }.keys.allSatisfy { toldDone.contains($0) }
    }

    /// A request for tasks from `name`, willing to wait `wait` seconds: answered now (an effect), or held.
    mutating func requestTasks(from name: String, waiter: Waiter, wait: Double) {
        if phase == .done {
            return emit(.reply(waiter, TaskReply(status: .done, round: round, reason: outcome?.succeeded == false ? outcome!.reason : "")))
        }
        // A site dropped while its connection lived on (its Envoy was cut off longer than the
        // Director waits, shorter than the idle timeout) shows by asking that it is back; without
        // this it would wait on the same connection for the rest of the experiment.
        if let reason = departed.removeValue(forKey: name) {
            log(.info, "\(name), which had departed (\(reason)), asked for tasks again: it takes part from the next round", ["peer": name])
        }
        if phase.collectsResults, let tasks = pending[name].map({ tasksToHandOut($0, to: name) }), !tasks.isEmpty {
            return emit(.reply(waiter, TaskReply(status: .run, round: round, tasks: tasks, attempt: attempt,
                                                 secureAggregation: secureTerms(for: name, tasks: tasks))))
        }
        if wait <= 0 { return emit(.reply(waiter, TaskReply(status: .wait, round: round))) }
        let token = held.hold(HeldTaskRequest(collaborator: name, waiter: waiter))
        emit(.expireRequest(token: token, after: wait))
    }

    /// A held request's time is up: answered "wait" unless it was answered already.
    mutating func expire(_ token: UInt64) {
        guard let request = held.take(token) else { return }
        emit(.reply(request.waiter, TaskReply(status: .wait, round: round)))
    }

    /// The model served in round `round`, or nil when that is not the current round.
    func model(forRound round: Int) -> ModelState? {
        phase != .done && phase != .loadingBestModel && round == self.round ? servedOverride ?? global : nil
    }

    /// Drops `name` from the current round and later ones: the Director says its collaborator has
    /// gone. The round closes at once if everyone left has reported (the straggler policy counts the
    /// sites still taking part); a round where nobody is left fails the experiment.
    mutating func depart(_ name: String, reason: String) {
        guard phase != .done, settings.collaborators.contains(name), departed[name] == nil else { return }
        departed[name] = reason
        defer { secureAggregationLost(name) }
        if phase == .statistics {
            log(.warning, "\(name) departed (\(reason)) before sending its feature statistics", ["peer": name])
            return completeStatisticsIfAllIn()
        }
        guard phase.collectsResults, assignments[name] != nil, !completed.contains(name) else {
            return log(.warning, "\(name) departed (\(reason)): it gets no further tasks unless it connects again", ["peer": name])
        }
        assignments.removeValue(forKey: name)
        pending.removeValue(forKey: name)
        departedThisRound.insert(name)
        log(.warning, "\(name) departed (\(reason)): round \(round) goes on without it", ["peer": name])
        if assignments.isEmpty {
            finish(succeeded: false, reason: "every collaborator of round \(round) departed (\(departedThisRound.sorted().joined(separator: ", ")))")
        } else if completed.count == assignments.count {
            closeRound()
        } else {
            closeIfOnlyAbsentRemain()
        }
    }

    /// A save failed: the models are not where the experiment promises them.
    mutating func saveFailed(_ reason: String) {
        finish(succeeded: false, reason: reason)
    }
}

extension RoundMachine.HeldTaskRequest: Sendable where Waiter: Sendable {}
