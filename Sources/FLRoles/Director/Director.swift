import Foundation
import Synchronization
import FLCore
import FLWire

/// The centre of a long-lived federation. It runs for months: Envoys (one per data site) dial in,
/// register their shard and send heartbeats; data scientists submit experiments, which the Director
/// queues and runs one at a time, in order. For each it offers the archive to the online Envoys,
/// starts an aggregator process (`fx-aggregator`) for those that accepted, tells them where it
/// listens, follows its events, and keeps the results (status, rounds, metrics, models).
///
/// Threads: every connection is served on its own thread by `FrameServer`; experiments run on one
/// runner thread, which also waits on the aggregator; timers (long-poll expiry, offline checks)
/// run on a serial queue. All of the state lives in `state`, and nothing blocking is ever done
/// while it is locked: replies and events decided under the lock are sent after it is released.
public final class Director: FrameHandler, @unchecked Sendable {
    /// The settings in force: those it started with, and what `reload` has changed since.
    public var settings: DirectorSettings { live.withLock { $0 } }
    let live: Mutex<DirectorSettings>
    public let store: DirectorStore
    let logger: Logger
    let aggregatorExecutable: String
    private let onEvent: @Sendable (DirectorEvent) -> Void
    let state: Mutex<DirectorState>
    let serverBox = Mutex<FrameServer?>(nil)
    private let timers = DispatchQueue(label: "swiftfl.director.timers")
    // Set in `start()` and cancelled in `stop()`, both called by the Director's owner, one after the other.
    private var onlineTimer: DispatchSourceTimer?
    /// Signalled whenever something the runner may be waiting for changes.
    let wake = DispatchSemaphore(value: 0)
    let stopping = Atomic<Bool>(false)
    private let runnerDone = DispatchSemaphore(value: 0)
    private let stopped = DispatchSemaphore(value: 0)
    /// The aggregator process running now, so a cancel or a stop can end it.
    let aggregator = Mutex<ChildProcess?>(nil)

    /// Reads the state directory (creating it if needed). Call `start()` to listen.
    public init(settings: DirectorSettings, logger: Logger, onEvent: @escaping @Sendable (DirectorEvent) -> Void = { _ in }) throws {
        live = Mutex(settings)
        self.logger = logger
        self.onEvent = onEvent
        guard let executable = settings.aggregatorExecutable ?? ChildProcess.siblingExecutable("fx-aggregator") else {
            throw DirectorError("cannot find the fx-aggregator executable beside this one; build the package (swift build)")
        }
        aggregatorExecutable = executable
        store = try DirectorStore(root: settings.stateDirectory, logger: logger)
        var initial = DirectorState(settings: settings, stateWarning: { [store] in store.problem ?? "" })
        initial.restore(envoys: try store.loadEnvoys(), experiments: try store.loadExperiments())
        state = Mutex(initial)
        store.onProblemChange { [weak self] problem in self?.emit([.stateUnsaved(problem: problem ?? "")]) }
        let resumed = initial.experiments.filter { $0.status == .running }.map(\.name)
        let queued = initial.experiments.filter { $0.status == .queued }.count
        if !initial.experiments.isEmpty {
            logger.info("state: \(initial.experiments.count) experiments (\(queued) queued\(resumed.isEmpty ? "" : ", resuming \(resumed.joined(separator: ", "))")), \(initial.envoys.count) known envoys")
        }
    }

    /// Starts listening, checking Envoys' liveness and running the queue; returns the port.
    @discardableResult
    public func start() throws -> Int {
        // Who may connect at all is decided by role here and by the allow-lists in `connected`;
        // what each may ask is decided message by message in `handle`.
        let configuration = ServerConfiguration(host: settings.host, port: settings.port, tls: settings.tls,
                                                limits: FrameLimits(maximumStreamSize: settings.maximumArchiveSize),
                                                idleTimeout: max(60, settings.offlineAfter * 4),
                                                allowedRoles: Director.envoyRoles.union(Director.userRoles))
        let server = try FrameServer(configuration: configuration, handler: self, logger: logger)
        serverBox.withLock { $0 = server }
        emit([.listening(port: server.port)])

        let timer = DispatchSource.makeTimerSource(queue: timers)
        let period = max(0.05, settings.heartbeatPeriod / 2)
        timer.schedule(deadline: .now() + period, repeating: period)
        timer.setEventHandler { [weak self] in self?.mutate { s in s.checkOnline() } }
        timer.resume()
        onlineTimer = timer

        let runner = Thread { [self] in
            runLoop()
            runnerDone.signal()
        }
        runner.name = "director-runner"
        runner.start()
        return server.port
    }

    /// Whether the Director can still take its own state lock and has not been stopped: what a
    /// watchdog asks before it tells systemd the service is alive, so a Director stuck on its lock
    /// stops the pings and is restarted.
    public var isResponsive: Bool {
        state.withLock { _ in }
        return !stopping.load(ordering: .relaxed)
    }

    /// The port listened on, once started.
    public var port: Int? { serverBox.withLock { $0?.port } }

    /// Stops serving. A running experiment's aggregator is stopped too; the experiment stays
    /// `running` in the state directory and is resumed from its last checkpoint at the next start.
    public func stop() {
        if stopping.exchange(true, ordering: .acquiringAndReleasing) { return }
        onlineTimer?.cancel()
        aggregator.withLock { $0 }?.terminate()
        wake.signal()
        serverBox.withLock { $0 }?.stop()
        if runnerDone.wait(timeout: .now() + 30) == .timedOut { logger.error("the experiment runner did not stop within 30 s") }
        store.synchronize()
        stopped.signal()
    }

    /// Blocks until `stop()` has finished.
    public func waitUntilStopped() {
        stopped.wait()
        stopped.signal()
    }

    // MARK: State

    /// Runs `body` with the state locked, schedules the writes it caused (in order, while still
    /// locked), then sends the replies and events it queued.
    @discardableResult
    func mutate<R: Sendable>(_ body: (inout DirectorState) throws -> R) rethrows -> R {
        let (result, outbox, events, wakeRunner) = try state.withLock { s -> (R, [(Responder, any WireMessage)], [DirectorEvent], Bool) in
            let result = try body(&s)
            if s.envoysChanged {
                store.save(envoys: s.envoyRecords)
                s.envoysChanged = false
            }
            let changed = s.experimentsChanged
            if changed {
                store.save(experiments: s.experiments)
                s.experimentsChanged = false
            }
            defer {
                s.outbox = []
                s.events = []
            }
            return (result, s.outbox, s.events, changed || !s.events.isEmpty)
        }
        for (responder, message) in outbox { responder.reply(message) }
        emit(events)
        if wakeRunner { wake.signal() }
        return result
    }

    func emit(_ events: [DirectorEvent]) {
        for event in events {
            switch event {
            case .envoyRefused, .experimentFinished, .requestRefused: logger.warning(event.logLine)
            case let .stateUnsaved(problem) where !problem.isEmpty: logger.error(event.logLine)
            case .roundStarted: logger.debug(event.logLine)
            default: logger.info(event.logLine)
            }
            onEvent(event)
            // A participant that is gone is dropped from its experiment's rounds at once.
            switch event {
            case let .envoyOffline(envoy):
                participantDeparted(envoy, reason: "its Envoy went offline")
            case let .siteUpdated(_, envoy, state, reason) where state == .failed || state == .finished:
                participantDeparted(envoy, reason: "its collaborator \(state == .failed ? "failed" : "exited")\(reason.isEmpty ? "" : ": \(reason)")")
            default:
                break
            }
        }
    }

    /// The state of every experiment (for tests and tools running the Director in process).
    public var experiments: [ExperimentInfo] { state.withLock { $0.experiments } }

    /// Every known Envoy.
    public var envoys: [EnvoyInfo] { state.withLock { $0.envoyInfo() } }

    // MARK: FrameHandler

    /// The roles that run sites, and the roles that submit and follow experiments.
    static let envoyRoles: Set<CertificateRole> = [.envoy]
    static let userRoles: Set<CertificateRole> = [.user, .admin]

    public func connected(_ peer: PeerConnection) throws {
        if let refusal = Director.refusal(of: peer, under: settings) { throw ErrorReply(.notAllowed, refusal) }
    }

    /// Why the allow-lists of `settings` turn `peer` away, or nil when they admit it. The lists
    /// narrow each role further; a name on one list never admits the other role.
    static func refusal(of peer: PeerConnection, under settings: DirectorSettings) -> String? {
        if peer.role == .envoy, let allowed = settings.allowedEnvoys, !allowed.contains(peer.name) {
            return "'\(peer.name)' is not among this federation's envoys (envoys.allowed)"
        }
        if let role = peer.role, Director.userRoles.contains(role), let allowed = settings.allowedUsers, !allowed.contains(peer.name) {
            return "'\(peer.name)' is not among this federation's users (users.allowed)"
        }
        return nil
    }

    public func disconnected(_ peer: PeerConnection) {
        mutate { s in
            if let e = s.envoys[peer.name], e.connection == peer.serial {
                s.envoys[peer.name]!.connection = nil
                s.checkOnline()
            }
            s.waiters = s.waiters.filter { $0.value.responder.peer !== peer }
            s.watchers = s.watchers.filter { $0.value.responder.peer !== peer }
        }
    }

    public func handle(_ request: Request) {
        if stopping.load(ordering: .acquiring) {
            return request.responder.fail(.shuttingDown, "the Director is shutting down")
        }
        switch request.message {
        case let m as EnvoyRegistration: asEnvoy(request) { register(m, request) }
        case let m as EnvoyHeartbeat: asEnvoy(request) { heartbeat(m, request) }
        case let m as WorkRequest: asEnvoy(request) { work(m, request) }
        case let m as ArchiveRequest: asEnvoy(request) { archive(m, request) }
        case let m as SiteReport: asEnvoy(request) { report(m, request) }
        case let m as SubmitExperiment: asUser(request) { submit(m, request) }
        case is ExperimentListRequest: asUser(request) { listExperiments(request) }
        case let m as ExperimentStatusRequest: asUser(request) { status(m, request) }
        case let m as ExperimentModelRequest: asUser(request) { model(m, request) }
        case let m as CancelExperiment: asUser(request) { cancel(m, request) }
        case is EnvoyListRequest: asUser(request) { listEnvoys(request) }
        default:
            refuse(request, .badRequest, "\(type(of: request.message)) is not something a Director answers")
        }
    }

    /// Runs `body` when the sender's certificate is an Envoy's; refuses it otherwise.
    private func asEnvoy(_ request: Request, _ body: () -> Void) {
        guard let role = request.peer.role, Director.envoyRoles.contains(role) else {
            return refuse(request, .notAllowed, "only an envoy certificate may send \(type(of: request.message)); '\(request.peer.name)' holds a \(request.peer.role.map(\.rawValue) ?? "role-less") one")
        }
        body()
    }

    /// Runs `body` when the sender's certificate is a user's or an admin's; refuses it otherwise.
    private func asUser(_ request: Request, _ body: () -> Void) {
        guard let role = request.peer.role, Director.userRoles.contains(role) else {
            return refuse(request, .notAllowed, "only a user or admin certificate may send \(type(of: request.message)); '\(request.peer.name)' holds a \(request.peer.role.map(\.rawValue) ?? "role-less") one")
        }
        body()
    }

    /// Answers `request` with an error and logs the refusal with the sender's name and role, so an
    /// operator can see who tried what.
    func refuse(_ request: Request, _ code: ErrorReply.Code, _ reason: String) {
        emit([.requestRefused(peer: request.peer.name, role: request.peer.role?.rawValue ?? "none",
                              request: "\(type(of: request.message))", reason: reason)])
        request.responder.fail(code, reason)
    }

    /// The refusal, queued while the state is locked (sent and logged after it is released).
    private static func refusal(_ s: inout DirectorState, _ request: Request, _ code: ErrorReply.Code, _ reason: String) {
        s.events.append(.requestRefused(peer: request.peer.name, role: request.peer.role?.rawValue ?? "none",
                                        request: "\(type(of: request.message))", reason: reason))
        s.outbox.append((request.responder, ErrorReply(code, reason)))
    }

    /// Whether `peer` may see, follow, download or cancel experiment `x`: its submitter, or an admin.
    static func owns(_ peer: PeerConnection, _ x: ExperimentInfo) -> Bool {
        peer.role == .admin || (peer.role == .user && x.submittedBy == peer.name)
    }

    private static func notOwned(_ x: ExperimentInfo, _ what: String) -> String {
        "experiment '\(x.name)' belongs to '\(x.submittedBy)'; only its submitter or an admin may \(what) it"
    }

    // MARK: Envoys

    private func register(_ m: EnvoyRegistration, _ request: Request) {
        let peer = request.peer
        let name = peer.name
        func refuse(_ code: ErrorReply.Code, _ reason: String) {
            emit([.envoyRefused(envoy: name, reason: reason)])
            request.responder.fail(code, reason)
        }
        guard m.shard.sampleCount >= 1 else {
            return refuse(.rejected, "the shard of '\(name)' has no rows")
        }
        guard m.envoy == name else {
            return refuse(.notAllowed, "you are '\(name)' by your certificate, not '\(m.envoy)'")
        }
        guard m.version == EnvoyRegistration.protocolVersion else {
            return refuse(.badRequest, "protocol version \(m.version) is not supported (this Director speaks \(EnvoyRegistration.protocolVersion))")
        }
        guard m.shard.sampleShape == settings.sampleShape, m.shard.targetShape == settings.targetShape else {
            let mine = "sample_shape \(ShardDescriptor.text(m.shard.sampleShape)) and target_shape \(ShardDescriptor.text(m.shard.targetShape))"
            let theirs = "sample_shape \(ShardDescriptor.text(settings.sampleShape)) and target_shape \(ShardDescriptor.text(settings.targetShape))"
            return refuse(.rejected, "the shard of '\(name)' has \(mine), but this federation's is \(theirs)")
        }
        let conflict: String? = mutate { s in
            let now = Date().timeIntervalSince1970
            if let existing = s.envoys[name], let serial = existing.connection, serial != peer.serial, s.isOnline(existing) {
                return "an Envoy named '\(name)' is already connected and sending heartbeats"
            }
            var entry = s.envoys[name] ?? DirectorState.Envoy(record: EnvoyRecord(name: name, shard: m.shard, registeredAt: now, lastRegistration: now))
            entry.record.shard = m.shard
            entry.record.lastRegistration = now
            entry.connection = peer.serial
            entry.lastHeard = .now
            s.envoys[name] = entry
            s.envoysChanged = true
            s.events.append(.envoyRegistered(envoy: name, shard: m.shard))
            s.checkOnline()
            s.outbox.append((request.responder, EnvoyWelcome(heartbeatPeriod: settings.heartbeatPeriod, sampleShape: settings.sampleShape,
                                                              targetShape: settings.targetShape)))
            return nil
        }
        if let conflict { request.responder.fail(.conflict, conflict) }
    }

    /// Whether `peer` is the registered connection of its Envoy.
    private func registered(_ s: DirectorState, _ peer: PeerConnection) -> Bool {
        s.envoys[peer.name]?.connection == peer.serial
    }

    private static let unknown = "this Director does not know you (it may have restarted): register first"

    private func heartbeat(_ m: EnvoyHeartbeat, _ request: Request) {
        let peer = request.peer
        let known: Bool = state.withLock { s in
            guard registered(s, peer) else { return false }
            s.envoys[peer.name]!.lastHeard = .now
            s.envoys[peer.name]!.heartbeat = m
            return s.envoys[peer.name]!.announcedOnline
        }
        // Coming back online is an event; the common case (already online) takes the lock once.
        if known {
            request.responder.reply(OkReply())
        } else if state.withLock({ registered($0, peer) }) {
            mutate { s in s.checkOnline() }
            request.responder.reply(OkReply())
        } else {
            request.responder.fail(.unknownPeer, Director.unknown)
        }
    }

    private func work(_ m: WorkRequest, _ request: Request) {
        let peer = request.peer
        let wait = min(m.maximumWaitSeconds, settings.longPollSeconds)
        let token: UInt64? = mutate { s in
            guard registered(s, peer) else {
                s.outbox.append((request.responder, ErrorReply(.unknownPeer, Director.unknown)))
                return nil
            }
            s.envoys[peer.name]!.work = m
            if let answer = s.assignment(for: peer.name, m) {
                s.outbox.append((request.responder, answer))
                return nil
            }
            if wait <= 0 {
                s.outbox.append((request.responder, WorkAssignment(action: .wait)))
                return nil
            }
            let token = s.token()
            s.waiters[token] = DirectorState.WorkWaiter(envoy: peer.name, request: m, responder: request.responder)
            return token
        }
        guard let token else { return }
        timers.asyncAfter(deadline: .now() + wait) { [weak self] in
            self?.mutate { s in
                if let waiter = s.waiters.removeValue(forKey: token) { s.outbox.append((waiter.responder, WorkAssignment(action: .wait))) }
            }
        }
    }

    private func archive(_ m: ArchiveRequest, _ request: Request) {
        let peer = request.peer
        let found: ExperimentInfo? = state.withLock { s in
            guard registered(s, peer), let x = s.experiment(m.experiment) else { return nil }
            let offered = x.site(peer.name) != nil || x.collaborators.contains(peer.name)
            return offered ? x : nil
        }
        guard let x = found else {
            return refuse(request, .notFound, "no experiment '\(m.experiment)' was offered to '\(peer.name)'")
        }
        let source: FileRegionSource
        do {
            source = try FileRegionSource(path: store.archivePath(of: x.name))
        } catch {
            return request.responder.fail(.internalError, "cannot read the archive of '\(x.name)': \(error)")
        }
        DirectorArchives.send(ArchiveReply(experiment: x.name, sha256: x.archiveSHA256), archive: source, to: request.responder)
    }

    private func report(_ m: SiteReport, _ request: Request) {
        let peer = request.peer
        let name = peer.name
        mutate { s in
            // Only the Envoy's own registered connection speaks for its site.
            guard registered(s, peer) else {
                return Director.refusal(&s, request, .unknownPeer, Director.unknown)
            }
            // A site reports only on experiments offered to it: its entry exists from the offer on.
            guard let x = s.experiment(m.experiment), let current = x.site(name)?.state else {
                return Director.refusal(&s, request, .notFound, "no experiment '\(m.experiment)' was offered to '\(name)'")
            }
            switch m.event {
            case .accepted:
                // A decision counts while the site is deciding; after that it changes nothing.
                if current == .offered || current == .absent { s.setSite(x.name, name, .accepted) }
            case .refused:
                if current == .offered || current == .absent || current == .accepted || x.collaborators.contains(name) {
                    s.setSite(x.name, name, .refused, reason: m.reason)
                }
            case .collaboratorStarted, .collaboratorExited:
                guard x.collaborators.contains(name) else {
                    return Director.refusal(&s, request, .rejected, "'\(name)' does not take part in experiment '\(x.name)'")
                }
            }
            switch m.event {
            case .accepted, .refused:
                break
            case .collaboratorStarted:
                s.setSite(x.name, name, .running)
            case .collaboratorExited:
                // A late report about an older launch must not overwrite the current one.
                if let active = s.active, active.name == x.name, m.launch < active.launch { break }
                s.setSite(x.name, name, m.succeeded ? .finished : .failed, reason: m.reason, exitStatus: m.exitStatus)
            }
            s.outbox.append((request.responder, OkReply()))
        }
    }

    // MARK: Data scientists

    private func submit(_ m: SubmitExperiment, _ request: Request) {
        let user = request.peer.name
        do { try PKI.validate(name: m.name) } catch {
            return refuse(request, .badRequest, "experiment name: \(error)")
        }
        guard let stream = request.stream else { return refuse(request, .badRequest, "no archive came with the submission") }
        guard stream.byteCount <= settings.maximumArchiveSize else {
            return refuse(request, .rejected, "the archive is \(stream.byteCount) bytes; this Director takes at most \(settings.maximumArchiveSize)")
        }
        let reserved: String? = state.withLock { s in
            if let x = s.experiment(m.name) { return "an experiment named '\(m.name)' already exists (\(x.status.rawValue))" }
            guard s.reservedNames.insert(m.name).inserted else { return "an experiment named '\(m.name)' is being submitted right now" }
            return nil
        }
        if let reserved { return request.responder.fail(.conflict, reserved) }
        defer { _ = state.withLock { $0.reservedNames.remove(m.name) } }

        let upload = "\(store.incomingDirectory)/\(m.name)-\(request.peer.serial)-\(request.id).tar"
        defer { try? FileManager.default.removeItem(atPath: upload) }
        let plan: ExperimentPlan
        let sha256: String
        do {
            sha256 = try DirectorArchives.receive(stream, to: upload)
            guard sha256 == m.sha256.lowercased() else {
                return refuse(request, .rejected, "the archive arrived with SHA-256 \(sha256), not the \(m.sha256) announced")
            }
            plan = try DirectorArchives.check(upload, scratch: "\(upload).check", sampleShape: settings.sampleShape)
            let directory = store.directory(of: m.name)
            try? FileManager.default.removeItem(atPath: directory)  // left by a crash before the experiment was recorded
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            guard rename(upload, store.archivePath(of: m.name)) == 0 else {
                throw FileError(path: store.archivePath(of: m.name), operation: "rename into place", errno: errno)
            }
        } catch let error as ErrorReply {
            return refuse(request, error.code, error.message)
        } catch {
            return refuse(request, .rejected, "\(error)")
        }
        let size = stream.byteCount
        mutate { s in
            s.append(ExperimentInfo(name: m.name, archiveSHA256: sha256, archiveSize: size, submittedBy: user,
                                    submittedAt: Date().timeIntervalSince1970, roundsToTrain: plan.roundsToTrain,
                                    bestMetric: plan.aggregator.bestMetric))
            let x = s.experiment(m.name)!
            s.events.append(.experimentQueued(experiment: m.name, submittedBy: user, position: x.queuePosition))
            s.outbox.append((request.responder, s.statusReply(x)))
        }
    }

    private func listExperiments(_ request: Request) {
        let peer = request.peer
        let all = state.withLock { $0.experiments }.map { x -> ExperimentInfo in
            // Others' experiments: their name and where they are, nothing of what they are.
            guard Director.owns(peer, x) else {
                return ExperimentInfo(name: x.name, status: x.status, archiveSHA256: "", archiveSize: 0, submittedBy: "", submittedAt: 0,
                                      queuePosition: x.queuePosition)
            }
            var summary = x
            summary.rounds = []
            return summary
        }
        request.responder.reply(ExperimentListReply(experiments: all, stateWarning: store.problem ?? ""))
    }

    private func status(_ m: ExperimentStatusRequest, _ request: Request) {
        let wait = min(m.maximumWaitSeconds, settings.longPollSeconds)
        let token: UInt64? = mutate { s in
            guard let x = s.experiment(m.name) else {
                s.outbox.append((request.responder, ErrorReply(.notFound, "no experiment '\(m.name)'")))
                return nil
            }
            guard Director.owns(request.peer, x) else {
                Director.refusal(&s, request, .notAllowed, Director.notOwned(x, "follow"))
                return nil
            }
            if wait <= 0 || x.version > m.afterVersion || x.status.isFinal {
                s.outbox.append((request.responder, s.statusReply(x)))
                return nil
            }
            let token = s.token()
            s.watchers[token] = DirectorState.Watcher(experiment: m.name, afterVersion: m.afterVersion, responder: request.responder)
            return token
        }
        guard let token else { return }
        timers.asyncAfter(deadline: .now() + wait) { [weak self] in
            self?.mutate { s in
                if let w = s.watchers.removeValue(forKey: token), let x = s.experiment(w.experiment) {
                    s.outbox.append((w.responder, s.statusReply(x)))
                }
            }
        }
    }

    private func model(_ m: ExperimentModelRequest, _ request: Request) {
        // While the experiment runs, its model is the aggregator's file in the workspace; once it
        // has ended, the copy kept in the experiment's folder.
        let found: Result<(live: (root: String, relative: String, layout: ModelLayout?)?, x: ExperimentInfo), ErrorReply> = state.withLock { s in
            guard let x = s.experiment(m.name) else { return .failure(ErrorReply(.notFound, "no experiment '\(m.name)'")) }
            guard Director.owns(request.peer, x) else { return .failure(ErrorReply(.notAllowed, Director.notOwned(x, "download"))) }
            guard let active = s.active, active.name == m.name, let root = active.workspaceRoot,
                  let relative = m.which == .best ? active.bestModel : active.lastModel else { return .success((nil, x)) }
            return .success(((root, relative, active.layout), x))
        }
        let target: (live: (root: String, relative: String, layout: ModelLayout?)?, x: ExperimentInfo)
        switch found {
        case let .failure(error): return error.code == .notAllowed ? refuse(request, error.code, error.message) : request.responder.reply(error)
        case let .success(t): target = t
        }
        let (root, relative, layout) = target.live ?? (store.directory(of: m.name), "\(m.which).safetensors", nil)
        guard ContainedPath.isFile(relative, inside: root) || FileManager.default.fileExists(atPath: "\(root)/\(relative)") else {
            return request.responder.fail(.notFound, "experiment '\(m.name)' has no \(m.which) model yet")
        }
        do {
            let fd = try VerifiedModel.open(relative, inside: root, layout: layout)
            request.responder.reply(ExperimentModelReply(name: m.name, which: m.which), stream: FileRegionSource(descriptor: fd, path: "\(root)/\(relative)"))
        } catch {
            logger.error("experiment '\(m.name)': refusing to serve its \(m.which) model: \(error)")
            request.responder.fail(.internalError, "the \(m.which) model of '\(m.name)' cannot be served: \(error)")
        }
    }

    private func cancel(_ m: CancelExperiment, _ request: Request) {
        let user = request.peer.name
        let terminate: Bool = mutate { s in
            guard let x = s.experiment(m.name) else {
                s.outbox.append((request.responder, ErrorReply(.notFound, "no experiment '\(m.name)'")))
                return false
            }
            guard Director.owns(request.peer, x) else {
                Director.refusal(&s, request, .notAllowed, Director.notOwned(x, "cancel"))
                return false
            }
            var terminate = false
            switch x.status {
            case .queued:
                s.update(m.name) { x in
                    x.status = .cancelled
                    x.reason = "cancelled by '\(user)' while queued"
                    x.finishedAt = Date().timeIntervalSince1970
                }
                s.renumberQueue()
                s.events.append(.experimentFinished(experiment: m.name, status: .cancelled, reason: "cancelled by '\(user)' while queued"))
            case .preparing, .running:
                if s.active?.name == m.name {
                    s.active!.cancelRequested = true
                    terminate = true
                } else {
                    // Running before a restart and not resumed yet: it never will be now.
                    s.update(m.name) { x in
                        x.status = .cancelled
                        x.reason = "cancelled by '\(user)'"
                        x.finishedAt = Date().timeIntervalSince1970
                    }
                }
            case .succeeded, .failed, .cancelled:
                s.outbox.append((request.responder, ErrorReply(.conflict, "experiment '\(m.name)' is already \(x.status.rawValue)")))
                return false
            }
            s.outbox.append((request.responder, s.statusReply(s.experiment(m.name)!)))
            return terminate
        }
        if terminate {
            logger.info("cancelling experiment '\(m.name)' at the request of '\(user)'")
            aggregator.withLock { $0 }?.terminate()
            wake.signal()
        }
    }

    private func listEnvoys(_ request: Request) {
        let envoys = state.withLock { $0.envoyInfo() }
        request.responder.reply(EnvoyListReply(envoys: envoys, heartbeatPeriod: settings.heartbeatPeriod))
    }
}

/// A Director that cannot start or do what was asked, with the reason.
public struct DirectorError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
