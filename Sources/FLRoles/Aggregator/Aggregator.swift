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
/// runs on its connection's own thread; the round's state has one owner, `state`.
public final class Aggregator: FrameHandler, @unchecked Sendable {
    public let settings: AggregatorSettings
    public let layout: ModelLayout
    private let logger: Logger
    private let metricsLog: MetricsLog
    private let journal: RoundJournal
    /// Where the preprocess tensors sit in the model: kept as they are when updates are averaged.
    private let frozenRanges: [Range<Int>]
    /// SCAFFOLD's control tensors (`ScaffoldControl`): averaged with the model, then scaled by the
    /// share of the sites whose updates made the average.
    private let controlRanges: [Range<Int>]
    /// The rounds the checkpoint resumed from holds, reported again at the start.
    private let recoveredRounds: [RoundSummary]
    private let onEvent: @Sendable (AggregatorEvent) -> Void
    private let state: Mutex<RoundState>
    private let staging: UpdateStaging
    /// Writes models and checkpoints off the request threads, in order. It never takes `state`'s lock:
    /// closing a round waits for this queue with the lock held.
    private let saver = DispatchQueue(label: "swiftfl.aggregator.save")
    /// The first save that failed (a checkpoint, `last` or `best`): the experiment cannot succeed.
    private let saveFailure = Mutex<String?>(nil)
    /// How the experiment ended, as reported: decided on `saver` once every save queued before the end has run.
    private let reportedOutcome = Mutex<AggregatorOutcome?>(nil)
    private let timers = DispatchQueue(label: "swiftfl.aggregator.timers")
    private let finished = DispatchSemaphore(value: 0)
    /// Signalled when a collaborator disconnects or is told the experiment is over.
    private let peersChanged = DispatchSemaphore(value: 0)
    private let serverBox = Mutex<FrameServer?>(nil)
    private let assigner: TaskAssigner

    /// The mutable state of the experiment. Only touched with `state` locked.
    private struct RoundState {
        enum Phase: Equatable {
            /// Before the first round: the sites' feature statistics come in, and the federation's
            /// standardizer goes into the model (`settings.standardizationFeatures`).
            case statistics
            case training
            case finalValidation
            /// After the final validation: the best model, measured once more by every site, so each
            /// site's numbers for it stand beside the final model's.
            case bestValidation
            case done
        }
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
        var waiters: [String: [(token: UInt64, responder: Responder)]] = [:]
        var nextToken: UInt64 = 1
        var roundStart = Deadline.now
        var bestValue: Double?
        var connected: [String: Int] = [:]
        /// Collaborators whose `done` reply has been written (not merely decided: `wait` stops the
        /// server once everyone is in here, which must not cut a reply still on its way out).
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
        /// Replies decided while the state was locked, sent after it is unlocked so a slow peer's
        /// socket never holds up the others.
        var outbox: [(Responder, TaskReply)] = []

        mutating func send(_ reply: TaskReply, to responder: Responder) { outbox.append((responder, reply)) }
    }

    /// Runs `body` with the state locked, then sends the replies it queued.
    private func mutate<R: Sendable>(_ body: (inout RoundState) throws -> R) rethrows -> R {
        let (result, outbox) = try state.withLock { s -> (R, [(Responder, TaskReply)]) in
            let result = try body(&s)
            let outbox = s.outbox
            s.outbox = []
            return (result, outbox)
        }
        for (responder, reply) in outbox { responder.reply(reply) }
        let told = outbox.filter { $0.1.status == .done }.map(\.0.peer.name)
        if !told.isEmpty { state.withLock { $0.toldDone.formUnion(told) } }
        if !outbox.isEmpty { peersChanged.signal() }
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
        self.frozenRanges = initialModel.layout.tensors.indices.filter { Standardizer.isPreprocessTensor(initialModel.layout.tensors[$0].name) }
            .map { initialModel.layout.range(at: $0) }
        self.controlRanges = initialModel.layout.tensors.indices.filter { ScaffoldControl.isControlTensor(initialModel.layout.tensors[$0].name) }
            .map { initialModel.layout.range(at: $0) }
        self.recoveredRounds = try journal.keepRounds(before: next)
        self.metricsLog = try MetricsLog(path: settings.paths.metricsLog)
        self.staging = UpdateStaging(slots: settings.concurrentUpdates, count: initialModel.layout.count)
        self.assigner = TaskAssigner(groups: settings.taskGroups, collaborators: settings.collaborators, seed: settings.assignerSeed)
        var aggregationSettings = settings.aggregation
        // Updates that outgrow the memory budget spill next to the checkpoints, on the workspace's disk.
        aggregationSettings.spillDirectory = aggregationSettings.spillDirectory ?? settings.paths.checkpointDirectory
        let aggregation = try aggregationSettings.make(layout: initialModel.layout)
        var initial = RoundState(global: initialModel, aggregation: aggregation, servedModelFile: settings.paths.initialModel)
        if settings.standardizationFeatures != nil && checkpoint == nil { initial.phase = .statistics }
        if let checkpoint {
            if let difference = initialModel.layout.difference(from: checkpoint.model.layout) {
                throw AggregationError("checkpoint model does not match the plan's model: \(difference)")
            }
            guard checkpoint.roundsCompleted <= settings.roundsToTrain else {
                throw AggregationError("checkpoint has \(checkpoint.roundsCompleted) rounds completed but the plan trains \(settings.roundsToTrain)")
            }
            try aggregation.restore(checkpoint.aggregationState)
            initial.global = checkpoint.model
            initial.round = checkpoint.roundsCompleted
            initial.roundsCompleted = checkpoint.roundsCompleted
            initial.bestValue = checkpoint.bestValue
            initial.bestRound = checkpoint.bestValue == nil ? nil : BestModelNote.read(besideModel: settings.paths.bestModel)?.round
            initial.servedModelFile = "\(settings.paths.checkpointDirectory)/\(AggregatorCheckpoint.modelFileName(roundsCompleted: checkpoint.roundsCompleted))"
            if checkpoint.roundsCompleted == settings.roundsToTrain {
                initial.phase = checkpoint.finalValidationDone || !settings.finalValidation ? .done : .finalValidation
            }
        }
        self.state = Mutex(initial)
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
        mutate { s in
            switch s.phase {
            case .done: finish(&s, succeeded: true, reason: "already complete (resumed after the last round)")
            case .statistics: openStatistics(&s)
            default: openRound(&s)
            }
        }
        return server.port
    }

    /// Blocks until the experiment ends and every connected collaborator has been told so (or
    /// `grace` seconds have passed), then stops the server.
    @discardableResult
    public func wait(grace: Double = 10) -> AggregatorOutcome {
        finished.wait()
        let deadline = Deadline.after(seconds: grace)
        while !deadline.hasPassed {
            let allTold = state.withLock { s in s.connected.filter { $0.value > 0 }.keys.allSatisfy { s.toldDone.contains($0) } }
            if allTold { break }
            _ = peersChanged.wait(timeout: .now() + max(0.001, deadline.remainingSeconds))
        }
        stop()
        return reportedOutcome.withLock { $0! }
    }

    /// Stops serving at once. An experiment still running ends as failed.
    public func stop() {
        mutate { s in
            if s.outcome == nil { finish(&s, succeeded: false, reason: "stopped") }
        }
        let server = serverBox.withLock { $0 }
        server?.stop()
        saver.sync {}
    }

    /// The port being listened on, once started.
    public var port: Int? { serverBox.withLock { $0?.port } }

    // MARK: - FrameHandler

    public func connected(_ peer: PeerConnection) throws {
        guard settings.collaborators.contains(peer.name) else {
            throw ErrorReply(.notAllowed, "'\(peer.name)' is not a collaborator of experiment '\(settings.experiment)'")
        }
        let rejoined: String? = state.withLock { s in
            s.connected[peer.name, default: 0] += 1
            // A new connection from a site that departed: its Envoy started it again.
            return s.departed.removeValue(forKey: peer.name)
        }
        if let reason = rejoined {
            logger.info("\(peer.name), which had departed (\(reason)), connected again: it takes part from the next round", ["peer": peer.name])
        }
    }

    /// Drops `name` from the current round and later ones: the Director says its collaborator has
    /// gone. The round closes at once if everyone left has reported (the straggler policy counts the
    /// sites still taking part); a round where nobody is left fails the experiment.
    public func depart(_ name: String, reason: String) {
        mutate { s in
            guard s.phase != .done, settings.collaborators.contains(name), s.departed[name] == nil else { return }
            s.departed[name] = reason
            if s.phase == .statistics {
                logger.warning("\(name) departed (\(reason)) before sending its feature statistics", ["peer": name])
                completeStatisticsIfAllIn(&s)
                return
            }
            guard s.assignments[name] != nil, !s.completed.contains(name) else {
                logger.warning("\(name) departed (\(reason)): it gets no further tasks unless it connects again", ["peer": name])
                return
            }
            s.assignments.removeValue(forKey: name)
            s.pending.removeValue(forKey: name)
            s.departedThisRound.insert(name)
            logger.warning("\(name) departed (\(reason)): round \(s.round) goes on without it", ["peer": name])
            if s.assignments.isEmpty {
                finish(&s, succeeded: false, reason: "every collaborator of round \(s.round) departed (\(s.departedThisRound.sorted().joined(separator: ", ")))")
            } else if s.completed.count == s.assignments.count {
                closeRound(&s)
            } else {
                closeIfOnlyAbsentRemain(&s)
            }
        }
    }

    /// A line on the command channel that is no command.
    func commandRefused(_ line: String) {
        logger.warning("ignored a line on the command channel that is not a command: \(line.prefix(200))")
    }

    public func disconnected(_ peer: PeerConnection) {
        mutate { s in
            s.connected[peer.name, default: 1] -= 1
            s.waiters[peer.name]?.removeAll { $0.responder.peer === peer }
            closeIfOnlyAbsentRemain(&s)
        }
        peersChanged.signal()
    }

    public func handle(_ request: Request) {
        let peer = request.peer
        switch request.message {
        case let hello as CollaboratorHello:
            handleHello(hello, request)
        case let ask as TaskRequest:
            handleTaskRequest(ask, request)
        case let ask as ModelRequest:
            handleModelRequest(ask, request)
        case let result as TaskResultMessage:
            handleResult(result, request)
        case let report as FeatureStatisticsReport:
            handleFeatureStatistics(report, request)
        default:
            logger.warning("refused \(type(of: request.message)) from \(peer): not a collaborator request", ["peer": peer.name])
            request.responder.fail(.badRequest, "\(type(of: request.message)) is not something an aggregator answers")
        }
    }

    private func handleHello(_ hello: CollaboratorHello, _ request: Request) {
        let peer = request.peer
        guard hello.collaborator == peer.name else {
            logger.warning("refused \(peer): says it is '\(hello.collaborator)' but its certificate names '\(peer.name)'", ["peer": peer.name])
            request.responder.fail(.notAllowed, "you are '\(peer.name)' by your certificate, not '\(hello.collaborator)'")
            peer.close()
            return
        }
        guard hello.experiment == settings.experiment else {
            request.responder.fail(.notFound, "this aggregator runs experiment '\(settings.experiment)', not '\(hello.experiment)'")
            return
        }
        guard hello.version == CollaboratorHello.protocolVersion else {
            request.responder.fail(.badRequest, "protocol version \(hello.version) is not supported (this aggregator speaks \(CollaboratorHello.protocolVersion))")
            return
        }
        let round = state.withLock { $0.round }
        let wantsStatistics = state.withLock { $0.phase == .statistics }
        request.responder.reply(AggregatorWelcome(experiment: settings.experiment, roundsToTrain: settings.roundsToTrain, currentRound: round, layout: layout,
                                                  wantsFeatureStatistics: wantsStatistics))
    }

    private func handleTaskRequest(_ ask: TaskRequest, _ request: Request) {
        let name = request.peer.name
        let wait = min(ask.maximumWaitSeconds, settings.longPollSeconds)
        let token: UInt64? = mutate { s in
            if s.phase == .done {
                s.send(TaskReply(status: .done, round: s.round, reason: s.outcome?.succeeded == false ? s.outcome!.reason : ""), to: request.responder)
                return nil
            }
            if let tasks = s.pending[name], !tasks.isEmpty {
                s.send(TaskReply(status: .run, round: s.round, tasks: tasks), to: request.responder)
                return nil
            }
            if wait <= 0 {
                s.send(TaskReply(status: .wait, round: s.round), to: request.responder)
                return nil
            }
            let token = s.nextToken
            s.nextToken += 1
            s.waiters[name, default: []].append((token, request.responder))
            return token
        }
        guard let token else { return }
        timers.asyncAfter(deadline: .now() + wait) { [self] in
            mutate { s in
                guard let i = s.waiters[name]?.firstIndex(where: { $0.token == token }) else { return }
                let waiter = s.waiters[name]!.remove(at: i)
                s.send(TaskReply(status: .wait, round: s.round), to: waiter.responder)
            }
        }
    }

    private func handleModelRequest(_ ask: ModelRequest, _ request: Request) {
        let snapshot: ModelState? = state.withLock { s in
            s.phase != .done && ask.round == s.round ? s.servedOverride ?? s.global : nil
        }
        guard let snapshot else {
            let current = state.withLock { $0.round }
            request.responder.fail(.conflict, "round \(ask.round) is not the current round (\(current))")
            return
        }
        // The snapshot shares the global model's storage; closing the round copies on write instead of
        // changing the bytes being sent.
        request.responder.reply(ModelReply(round: ask.round, layout: layout), stream: FloatBufferSource(snapshot))
    }

    private enum Verdict {
        /// Accepted, with the weight it carries: the claimed sample count, capped by the site's registration.
        case accept(TaskDefinition, weight: Int)
        /// Refused, but it was the collaborator's task: the task counts as reported, its content is left out.
        case exclude(String)
        /// Refused outright: not this collaborator's task now.
        case refuse(ErrorReply.Code, String)
    }

    private func judge(_ result: TaskResultMessage, from name: String, stream: InboundStream?) -> Verdict {
        state.withLock { s -> Verdict in
            guard s.phase != .done else { return .refuse(.conflict, "the experiment is over") }
            guard result.round == s.round else {
                return .refuse(.conflict, "result for round \(result.round) but the current round is \(s.round)")
            }
            guard let pending = s.pending[name], pending.contains(result.task) else {
                let assigned = s.assignments[name] ?? []
                return .refuse(.rejected, assigned.contains(result.task)
                    ? "task '\(result.task)' of round \(result.round) was already reported"
                    : "task '\(result.task)' is not assigned to '\(name)' in round \(result.round)")
            }
            let definition = settings.tasks[result.task] ?? TaskDefinition(name: result.task, function: .validate)
            guard result.sampleCount > 0 else { return .exclude("sample count is \(result.sampleCount); it must be positive") }
            guard result.sampleCount <= settings.maximumSampleCount else {
                return .exclude("sample count \(result.sampleCount) exceeds the plausible maximum \(settings.maximumSampleCount)")
            }
            if let (metric, value) = result.metrics.first(where: { !$0.value.isFinite }) {
                return .exclude("metric '\(metric)' is \(value)")
            }
            if definition.function == .train {
                guard let received = result.layout else { return .exclude("a training result must carry a model") }
                if let difference = layout.difference(from: received) { return .exclude("model does not match the experiment's: \(difference)") }
                guard let stream, stream.byteCount == layout.byteCount else {
                    return .exclude("model stream has \(stream?.byteCount ?? 0) bytes, expected \(layout.byteCount)")
                }
            }
            return .accept(definition, weight: min(result.sampleCount, settings.sampleCaps[name] ?? .max))
        }
    }

    private func handleResult(_ result: TaskResultMessage, _ request: Request) {
        let name = request.peer.name
        switch judge(result, from: name, stream: request.stream) {
        case let .refuse(code, reason):
            reject(name, result, reason: reason)
            request.responder.fail(code, reason)
        case let .exclude(reason):
            reject(name, result, reason: reason)
            mutate { s in
                if s.round == result.round { markReported(&s, name: name, task: result.task) }
            }
            request.responder.fail(.rejected, reason)
        case let .accept(definition, weight):
            if weight < result.sampleCount {
                logger.warning("capped the weight of \(name)'s \(result.task) result of round \(result.round): it claims \(result.sampleCount) samples, "
                               + "its site registered \(weight)", ["peer": name, "task": result.task])
            }
            if definition.function == .train {
                do {
                    try staging.withBuffer(timeout: settings.server.idleTimeout) { buffer in
                        try buffer.withUnsafeMutableBytes { try request.stream!.read(into: $0) }
                        // Checked here, outside the lock, to say precisely what is wrong; folding in
                        // checks the weighted sum as well (an overflow of finite values).
                        if let index = buffer.withUnsafeBufferPointer({ FloatKernels.firstNonFinite($0) }) {
                            let (tensor, element) = position(of: index)
                            throw ErrorReply(.rejected, "model tensor '\(tensor)' holds \(buffer[index]) at element \(element) (NaN or infinity)")
                        }
                        try mutate { s in
                            guard s.phase != .done, s.round == result.round, s.pending[name]?.contains(result.task) == true else {
                                throw ErrorReply(.conflict, "round \(result.round) closed while the update was arriving")
                            }
                            switch s.aggregation.add(&buffer, weight: Double(weight)) {
                            case .added: s.updatesFolded += 1
                            case let .refused(index):
                                let (tensor, element) = position(of: index)
                                throw ErrorReply(.rejected, "weighted by its \(weight) samples, model tensor '\(tensor)' overflows the running sum "
                                                 + "at element \(element) (beyond float32's range); the update is left out")
                            case let .notKept(reason):
                                logger.error("could not keep the update of \(name) for round \(result.round): \(reason)", ["peer": name])
                                throw ErrorReply(.rejected, "the aggregator could not keep the update (\(reason)); it is left out")
                            }
                            record(&s, name: name, result: result, weight: weight)
                        }
                    }
                } catch let error as ErrorReply {
                    reject(name, result, reason: error.message)
                    if error.code == .rejected {
                        mutate { s in if s.round == result.round { markReported(&s, name: name, task: result.task) } }
                    }
                    request.responder.fail(error.code, error.message)
                    return
                } catch {
                    logger.warning("lost the update of \(name) for round \(result.round): \(error)", ["peer": name])
                    request.peer.close()
                    return
                }
            } else {
                mutate { s in record(&s, name: name, result: result, weight: weight) }
            }
            request.responder.reply(OkReply())
        }
    }

    /// The tensor holding the value at `index` of the model's flat values, and its index within that tensor.
    private func position(of index: Int) -> (tensor: String, element: Int) {
        let i = layout.offsets.lastIndex { $0 <= index } ?? 0
        return (layout.tensors[i].name, index - layout.offsets[i])
    }

    private func reject(_ name: String, _ result: TaskResultMessage, reason: String) {
        logger.warning("rejected \(result.task) result of round \(result.round) from \(name): \(reason)", ["peer": name, "task": result.task])
        onEvent(.updateRejected(collaborator: name, reason: "\(result.task), round \(result.round): \(reason)"))
    }

    // MARK: - Rounds (all called with `state` locked)

    /// Adds an accepted result's metrics, weighted by `weight` (its capped sample count), and marks the task reported.
    private func record(_ s: inout RoundState, name: String, result: TaskResultMessage, weight: Int) {
        var records: [MetricRecord] = []
        for key in result.metrics.keys.sorted() {
            let value = result.metrics[key]!
            records.append(MetricRecord(round: s.round, origin: name, task: result.task, metric: key, value: value))
            let id = "\(result.task)/\(key)"
            s.siteMetrics[name, default: [:]][id] = value
            let old = s.metricSums[id] ?? (0, 0)
            s.metricSums[id] = (old.sum + value * Double(weight), old.weight + Double(weight))
        }
        metricsLog.append(records)
        markReported(&s, name: name, task: result.task)
    }

    private func markReported(_ s: inout RoundState, name: String, task: String) {
        // A result still arriving when the experiment ended (failed) must not close a round again.
        guard s.phase != .done, var tasks = s.pending[name], let i = tasks.firstIndex(of: task) else { return }
        tasks.remove(at: i)
        s.pending[name] = tasks
        if tasks.isEmpty {
            s.completed.insert(name)
            if s.completed.count == s.assignments.count { closeRound(&s) } else { closeIfOnlyAbsentRemain(&s) }
        }
    }

    /// The tasks of the current phase for each collaborator.
    private func assignments(for s: RoundState) -> [String: [String]] {
        let available = assignmentsOfPhase(s).filter { s.departed[$0.key] == nil }
        guard s.phase == .training, settings.fractionPerRound < 1 else { return available }
        // Client sampling: this round's share of the sites still taking part.
        let chosen = assigner.sample(Array(available.keys), fraction: settings.fractionPerRound, round: s.round)
        return available.filter { chosen.contains($0.key) }
    }

    private func assignmentsOfPhase(_ s: RoundState) -> [String: [String]] {
        switch s.phase {
        case .training:
            return assigner.assignments(round: s.round).filter { !$0.value.isEmpty }
        case .finalValidation, .bestValidation:
            // Every global-model validation of any group, in plan order, for everyone.
            var tasks: [String] = []
            for group in settings.taskGroups {
                for task in group.tasks where !tasks.contains(task) {
                    if let d = settings.tasks[task], d.function == .validate, d.subject == .global { tasks.append(task) }
                }
            }
            return tasks.isEmpty ? [:] : Dictionary(uniqueKeysWithValues: settings.collaborators.map { ($0, tasks) })
        case .statistics, .done:
            return [:]
        }
    }

    private func openRound(_ s: inout RoundState) {
        s.assignments = assignments(for: s)
        s.departedThisRound = []
        if s.assignments.isEmpty && !s.departed.isEmpty && s.phase != .done {
            finish(&s, succeeded: false, reason: "no collaborator is left for round \(s.round): \(s.departed.keys.sorted().map { "\($0) departed (\(s.departed[$0]!))" }.joined(separator: "; "))")
            return
        }
        if s.assignments.isEmpty {
            if s.phase == .finalValidation {
                finish(&s, succeeded: true, reason: "completed \(s.roundsCompleted) rounds")
            } else {
                finish(&s, succeeded: false, reason: "round \(s.round) has no tasks for any collaborator (check the assigner's task groups)")
            }
            return
        }
        s.pending = s.assignments
        s.completed = []
        s.updatesFolded = 0
        s.metricSums = [:]
        s.siteMetrics = [:]
        s.roundStart = .now
        s.aggregation.begin(global: s.global)
        let isFinal = s.phase == .finalValidation
        onEvent(.roundStarted(round: s.round, attempt: s.attempt, collaborators: s.assignments.keys.sorted(), isFinalValidation: isFinal))
        // Wake everyone already waiting for this round.
        for (name, tasks) in s.assignments {
            for waiter in s.waiters.removeValue(forKey: name) ?? [] {
                s.send(TaskReply(status: .run, round: s.round, tasks: tasks), to: waiter.responder)
            }
        }
        if let timeout = settings.straggler.roundTimeout {
            let (round, attempt) = (s.round, s.attempt)
            timers.asyncAfter(deadline: .now() + timeout) { [self] in
                mutate { s in
                    guard s.phase != .done, s.round == round, s.attempt == attempt else { return }
                    roundTimedOut(&s)
                }
            }
        }
    }

    // MARK: - The federation's standardizer (all called with `state` locked but the handler)

    /// Waits for every site's feature statistics, at most the round timeout (then goes on with what
    /// came, if enough did).
    private func openStatistics(_ s: inout RoundState) {
        s.roundStart = .now
        logger.info("waiting for \(settings.collaborators.count) sites' feature statistics (count, sums and sums of squares) before round 1")
        guard let timeout = settings.straggler.roundTimeout else { return }
        let attempt = s.attempt
        timers.asyncAfter(deadline: .now() + timeout) { [self] in
            mutate { s in
                guard s.phase == .statistics, s.attempt == attempt else { return }
                statisticsTimedOut(&s)
            }
        }
    }

    private func handleFeatureStatistics(_ report: FeatureStatisticsReport, _ request: Request) {
        let name = request.peer.name
        let refusal: String? = mutate { s in
            guard s.phase == .statistics else { return "the experiment is past its statistics" }
            if !report.declined.isEmpty {
                s.declinedStatistics[name] = report.declined
                s.featureStatistics.removeValue(forKey: name)
                logger.info("\(name) declined to send feature statistics: \(report.declined)", ["peer": name])
            } else if let problem = statisticsProblem(report, from: name) {
                // Left out of the standardizer, like a site that declined; the others go on.
                s.declinedStatistics[name] = "refused: \(problem)"
                s.featureStatistics.removeValue(forKey: name)
                completeStatisticsIfAllIn(&s)
                return problem
            } else {
                s.featureStatistics[name] = FeatureStatistics(count: report.count, sum: report.sum, sumOfSquares: report.sumOfSquares)
                s.declinedStatistics.removeValue(forKey: name)
            }
            completeStatisticsIfAllIn(&s)
            return nil
        }
        if let refusal {
            logger.warning("refused the feature statistics of \(name): \(refusal)", ["peer": name])
            onEvent(.updateRejected(collaborator: name, reason: "feature statistics: \(refusal)"))
            request.responder.fail(.rejected, refusal)
        } else {
            request.responder.reply(OkReply())
        }
    }

    /// Why a site's statistics cannot count: the wrong number of features, more rows than its site
    /// registered, values that are not finite, or sums no rows could have.
    private func statisticsProblem(_ report: FeatureStatisticsReport, from name: String) -> String? {
        let features = settings.standardizationFeatures ?? 0
        guard report.sum.count == features else { return "\(report.sum.count) features, the model takes \(features)" }
        guard report.count >= 1 else { return "a count of \(report.count) rows" }
        if let cap = settings.sampleCaps[name], report.count > cap { return "\(report.count) rows, more than the \(cap) its site registered" }
        guard report.count <= settings.maximumSampleCount else { return "\(report.count) rows, more than the plausible \(settings.maximumSampleCount)" }
        let n = Double(report.count)
        for j in 0..<features {
            let (sum, squares) = (report.sum[j], report.sumOfSquares[j])
            guard sum.isFinite, squares.isFinite else { return "feature \(j)'s sums are not finite" }
            // Σx² ≥ (Σx)²/n for any rows (Cauchy-Schwarz), up to rounding.
            guard squares >= 0, squares * n >= sum * sum * (1 - 1e-9) - 1e-9 else { return "feature \(j)'s sum of squares is smaller than its rows allow" }
        }
        return nil
    }

    /// Goes on once every site still taking part has sent or declined.
    private func completeStatisticsIfAllIn(_ s: inout RoundState) {
        let expected = settings.collaborators.filter { s.departed[$0] == nil }
        guard expected.allSatisfy({ s.featureStatistics[$0] != nil || s.declinedStatistics[$0] != nil }) else { return }
        completeStatistics(&s)
    }

    private func statisticsTimedOut(_ s: inout RoundState) {
        let expected = settings.collaborators.filter { s.departed[$0] == nil }
        let answered = expected.filter { s.featureStatistics[$0] != nil || s.declinedStatistics[$0] != nil }
        let required = settings.straggler.minimumReporting.required(of: expected.count)
        if answered.count >= required, !s.featureStatistics.isEmpty { return completeStatistics(&s) }
        let missing = expected.filter { !answered.contains($0) }
        let why = "the sites' feature statistics timed out with \(answered.count) of \(expected.count) in, fewer than the minimum \(required) (missing: \(missing.joined(separator: ", ")))"
        switch settings.straggler.shortfall {
        case let .retry(limit) where s.attempt < limit:
            s.attempt += 1
            logger.warning("\(why); waiting again (attempt \(s.attempt + 1) of \(limit + 1))")
            openStatistics(&s)
        default:
            finish(&s, succeeded: false, reason: why)
        }
    }

    /// Adds up the sites' statistics into the federation's standardizer, writes it into the model's
    /// preprocess tensors (checkpointed before round 1, so a restart never asks again) and opens round 1.
    private func completeStatistics(_ s: inout RoundState) {
        let sites = s.featureStatistics.keys.sorted()
        guard let first = sites.first else {
            let declined = s.declinedStatistics.keys.sorted().map { "\($0): \(s.declinedStatistics[$0]!)" }.joined(separator: "; ")
            return finish(&s, succeeded: false, reason: "no site sent feature statistics, so the federation has no standardizer (\(declined.isEmpty ? "every site departed" : declined))")
        }
        let total = sites.dropFirst().reduce(s.featureStatistics[first]!) { $0 + s.featureStatistics[$1]! }
        let standardizer = total.standardizer
        standardizer.write(into: &s.global)
        let declined = s.declinedStatistics.keys.sorted()
        logger.info("the federation's standardizer: \(total.count) training rows from \(sites.count) sites (\(sites.joined(separator: ", ")))"
                    + (declined.isEmpty ? "" : "; left out: \(declined.map { "\($0) (\(s.declinedStatistics[$0]!))" }.joined(separator: ", "))"))
        // Round 0 is served this model: it is on disk before anyone trains on it.
        let checkpoint = AggregatorCheckpoint(experiment: settings.experiment, roundsCompleted: 0, model: s.global, bestValue: nil,
                                              aggregationState: s.aggregation.state, modelMetadata: settings.modelMetadata)
        let paths = settings.paths
        s.servedModelFile = "\(paths.checkpointDirectory)/\(AggregatorCheckpoint.modelFileName(roundsCompleted: 0))"
        saver.async { [self] in
            do {
                let modelPath = try checkpoint.write(to: paths.checkpointDirectory)
                try AtomicFile.link(modelPath, to: paths.lastModel)
            } catch {
                saveFailed("cannot save the model with the federation's standardizer: \(error)")
            }
        }
        s.featureStatistics = [:]
        s.declinedStatistics = [:]
        s.attempt = 0
        s.phase = .training
        openRound(&s)
    }

    private func requiredReports(_ s: RoundState) -> Int {
        settings.straggler.minimumReporting.required(of: s.assignments.count)
    }

    /// Closes early when enough reported and everyone still missing has disconnected: waiting out
    /// the timeout would change nothing. Only under a policy that allows closing without everyone.
    private func closeIfOnlyAbsentRemain(_ s: inout RoundState) {
        guard s.phase != .done, settings.straggler.roundTimeout != nil, !s.assignments.isEmpty else { return }
        guard s.completed.count >= requiredReports(s) else { return }
        let missing = s.assignments.keys.filter { !s.completed.contains($0) }
        guard !missing.isEmpty, missing.allSatisfy({ (s.connected[$0] ?? 0) <= 0 }) else { return }
        logger.info("round \(s.round): closing without \(missing.sorted().joined(separator: ", ")) (disconnected)")
        closeRound(&s)
    }

    private func roundTimedOut(_ s: inout RoundState) {
        let required = requiredReports(s)
        let missing = s.assignments.keys.filter { !s.completed.contains($0) }.sorted()
        if s.completed.count >= required {
            logger.warning("round \(s.round) timed out; closing with \(s.completed.count) of \(s.assignments.count) collaborators (missing: \(missing.joined(separator: ", ")))")
            closeRound(&s)
            return
        }
        let why = "round \(s.round) timed out with \(s.completed.count) of \(s.assignments.count) collaborators reported, fewer than the minimum \(required) (missing: \(missing.joined(separator: ", ")))"
        switch settings.straggler.shortfall {
        case let .retry(limit) where s.attempt < limit:
            s.attempt += 1
            logger.warning("\(why); retrying the round (attempt \(s.attempt + 1) of \(limit + 1))")
            openRound(&s)
        default:
            finish(&s, succeeded: false, reason: why)
        }
    }

    private func closeRound(_ s: inout RoundState) {
        let duration = s.roundStart.elapsedSeconds
        var metrics: [String: Double] = [:]
        for (id, v) in s.metricSums where v.weight > 0 { metrics[id] = v.sum / v.weight }
        let isFinal = s.phase == .finalValidation
        let isBestValidation = s.phase == .bestValidation
        metricsLog.append(metrics.keys.sorted().map { id in
            let slash = id.firstIndex(of: "/")!
            return MetricRecord(round: s.round, origin: "aggregator", task: String(id[..<slash]), metric: String(id[id.index(after: slash)...]), value: metrics[id]!)
        })
        // The best-model metric measures the model this round started from (a validation of the global model).
        var isBest = false
        if !isBestValidation, let value = metrics[settings.bestMetric] {
            if let best = s.bestValue {
                isBest = settings.higherIsBetter ? value > best : value < best
            } else {
                isBest = true
            }
            if isBest {
                s.bestValue = value
                s.bestRound = s.round
                // The measured model is the one this round was served, already on disk as the previous
                // round's checkpoint (or the initial model): link it rather than write it again.
                let (source, path, round) = (s.servedModelFile, settings.paths.bestModel, s.round)
                let note = BestModelNote(round: round, metric: settings.bestMetric, value: value, higherIsBetter: settings.higherIsBetter)
                saver.async { [self] in
                    do {
                        try AtomicFile.link(source, to: path)
                        try note.write(besideModel: path)
                    } catch {
                        saveFailed("cannot save the best model (the model round \(round) started from, \(note.metric)=\(value)): \(error)")
                    }
                }
            }
        }
        let missing = (s.assignments.keys.filter { !s.completed.contains($0) } + s.departedThisRound).sorted()
        let summary = RoundSummary(round: s.round, isFinalValidation: isFinal, attempt: s.attempt, reported: s.completed.sorted(),
                                   missing: missing, metrics: metrics, duration: duration, isBest: isBest, isBestValidation: isBestValidation,
                                   siteMetrics: isFinal || isBestValidation ? s.siteMetrics : [:])
        if isBestValidation {
            // Nothing to aggregate or checkpoint: the best model was only measured.
            onEvent(.roundClosed(summary))
            finish(&s, succeeded: true, reason: "completed \(s.roundsCompleted) rounds")
            return
        }
        s.lastMetrics = metrics
        if !isFinal {
            if s.aggregation.totalWeight > 0 {
                // The previous round's save may still hold this buffer; waiting for it lets the next model
                // be computed in place instead of in a model-sized copy.
                saver.sync {}
                // The preprocess tensors are the federation's standardizer, not trained: they stay.
                let frozen = frozenRanges.map { Array(s.global.values[$0]) }
                let control = controlRanges.map { Array(s.global.values[$0]) }
                s.aggregation.finish(into: &s.global)
                for (range, values) in zip(frozenRanges, frozen) { s.global.values.replaceSubrange(range, with: values) }
                // SCAFFOLD: c ← c + (|S|/N)·mean(Δcᵢ); the average gave c + mean(Δcᵢ).
                let share = Float(s.updatesFolded) / Float(max(1, settings.collaborators.count))
                if share < 1 {
                    for (range, old) in zip(controlRanges, control) {
                        for (k, i) in range.enumerated() { s.global.values[i] = old[k] + share * (s.global.values[i] - old[k]) }
                    }
                }
                if let bad = s.global.firstNonFinite {
                    // Every update was finite and so was their sum, yet the function's step was not
                    // (e.g. FedAvgM with an absurd server learning rate). The model is broken: never
                    // save or serve it; the last checkpoint stays the last good model.
                    finish(&s, succeeded: false, reason: "the model aggregated from the updates of round \(s.round) is not finite (tensor '\(bad.tensor)' "
                           + "holds \(bad.value) at element \(bad.element)); it was neither saved nor served (check the aggregation "
                           + "settings, e.g. server_learning_rate)")
                    return
                }
            } else {
                logger.warning("round \(s.round): no update was accepted; the model stays as it was")
            }
            s.roundsCompleted = s.round + 1
        }
        onEvent(.roundClosed(summary))
        saveLastAndCheckpoint(&s, summary: summary, finalValidationDone: isFinal)
        s.attempt = 0
        if isFinal {
            if !startBestValidation(&s) { finish(&s, succeeded: true, reason: "completed \(s.roundsCompleted) rounds") }
        } else if s.roundsCompleted < settings.roundsToTrain {
            s.round += 1
            openRound(&s)
        } else if settings.finalValidation {
            s.round += 1
            s.phase = .finalValidation
            openRound(&s)
        } else {
            finish(&s, succeeded: true, reason: "completed \(s.roundsCompleted) rounds")
        }
    }

    /// After the final validation, when the best model is another than the final one: serves it for
    /// one more validation by every site. Returns false when there is nothing to do (the final model
    /// is the best, or the best model cannot be read back).
    private func startBestValidation(_ s: inout RoundState) -> Bool {
        guard let bestRound = s.bestRound, bestRound != s.round else { return false }
        saver.sync {}  // the best model's link may still be on its way
        guard saveFailure.withLock({ $0 == nil }) else { return false }
        do {
            let best = try Safetensors.read(settings.paths.bestModel).model
            guard best.layout == layout else { return false }
            s.servedOverride = best
        } catch {
            logger.warning("cannot read the best model back for its last validation: \(error)")
            return false
        }
        s.phase = .bestValidation
        s.round += 1
        openRound(&s)
        return true
    }

    /// Writes the checkpoint of the rounds completed so far (in the background, in order) and points
    /// `last` at its model file; the next round's model is served from that file's contents.
    private func saveLastAndCheckpoint(_ s: inout RoundState, summary: RoundSummary, finalValidationDone: Bool) {
        let checkpoint = AggregatorCheckpoint(experiment: settings.experiment, roundsCompleted: s.roundsCompleted,
                                              finalValidationDone: finalValidationDone, model: s.global,
                                              bestValue: s.bestValue, aggregationState: s.aggregation.state, modelMetadata: settings.modelMetadata)
        let paths = settings.paths
        s.servedModelFile = "\(paths.checkpointDirectory)/\(AggregatorCheckpoint.modelFileName(roundsCompleted: s.roundsCompleted))"
        let after = finalValidationDone ? "the final validation" : "round \(checkpoint.roundsCompleted)"
        saver.async { [self] in
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
        }
    }

    /// Called on `saver` when a checkpoint, `last` or `best` could not be written (a full disk, a
    /// quota, a file-size limit): the models are not where the experiment promises them, so it ends
    /// as failed with this reason. Not retried: a full disk rarely clears within seconds, and closing
    /// a round waits for this queue, so a retry would hold up every collaborator.
    private func saveFailed(_ reason: String) {
        logger.error(reason)
        let isFirst = saveFailure.withLock { failure in
            guard failure == nil else { return false }
            failure = reason
            return true
        }
        guard isFirst else { return }
        // Through another queue: the state's owner may be waiting for this one (closing a round).
        timers.async { [self] in
            mutate { s in finish(&s, succeeded: false, reason: reason) }
        }
    }

    private func finish(_ s: inout RoundState, succeeded: Bool, reason: String) {
        guard s.outcome == nil else { return }
        s.phase = .done
        let outcome = AggregatorOutcome(succeeded: succeeded, reason: reason, roundsCompleted: s.roundsCompleted,
                                        bestValue: s.bestValue, finalMetrics: s.lastMetrics)
        s.outcome = outcome
        for waiters in s.waiters.values {
            for waiter in waiters { s.send(TaskReply(status: .done, round: s.round, reason: succeeded ? "" : reason), to: waiter.responder) }
        }
        s.waiters = [:]
        saver.async { [self] in
            // Every save queued before the end has run: only now is it known whether the models are on
            // disk, so only now is the outcome final (and a success only if they are).
            var outcome = outcome
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
}
