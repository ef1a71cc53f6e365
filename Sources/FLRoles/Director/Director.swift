import Foundation
import Synchronization
import FLCore
import FLWire
import FLPKI

/// The centre of a long-lived federation. It runs for months: Envoys (one per data site) dial in,
/// register their shard, how many collaborators they run at once, and send heartbeats; data
/// scientists submit experiments, which the Director queues and runs, several at once when the
/// Envoys have room (first come, first served, with backfill: see `DirectorState+Scheduling`).
/// For each it offers the archive to the online Envoys, starts an aggregator process
/// (`fx-aggregator`, on a port of its own) for those that accepted, tells them where it listens,
/// follows its events, and keeps the results (status, rounds, metrics, models).
///
/// Threads: every connection is served by `FrameServer`; one scheduling thread starts experiments,
/// and each experiment being run has a thread of its own, which also waits on its aggregator;
/// timers (long-poll expiry, offline checks) run on a serial queue. All of the state lives in `state`, and nothing blocking is ever done
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
    let timers = DispatchQueue(label: "swiftfl.director.timers")
    // Set in `start()` and cancelled in `stop()`, both called by the Director's owner, one after the other.
    private var onlineTimer: DispatchSourceTimer?
    /// Signalled whenever something the runners may be waiting for changes.
    let wake = ChangeSignal()
    /// Where events are logged and reported, one change's after another's: queued while the state
    /// is locked (queueing never blocks), carried out after, so no lock is held for the log's I/O.
    let announcements = DispatchQueue(label: "swiftfl.director.announcements")
    let stopping = Atomic<Bool>(false)
    private let runnerDone = DispatchSemaphore(value: 0)
    /// Entered by each experiment's thread while it runs, so `stop()` waits for them all.
    let experimentThreads = DispatchGroup()
    private let stopped = DispatchSemaphore(value: 0)
    /// The aggregator processes running now, by experiment, so a cancel or a stop can end them.
    let aggregators = Mutex<[String: ChildProcess]>([:])
    /// Federated analytics queries and their results (taken after `state` when both are needed).
    let analytics = Mutex(AnalyticsLedger())
    /// Heartbeat history and totals for the dashboard and `/metrics`.
    public let dashboard = DashboardRecorder()
    /// The dashboard's HTTP server, while `dashboard.listen` is set and the Director runs.
    let dashboardServer = Mutex<HTTPServer?>(nil)

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
        initial.requestedEnvoys = Director.requestedEnvoys(store, initial.experiments)
        state = Mutex(initial)
        store.onProblemChange { [weak self] problem in self?.emit([.stateUnsaved(problem: problem ?? "")]) }
        let resumed = initial.experiments.filter { $0.status == .running }.map(\.name)  // every one of them resumes
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
        try startDashboard()

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

    /// Stops serving. The running experiments' aggregators are stopped too; the experiments stay
    /// `running` in the state directory and are resumed from their last checkpoints at the next start.
    public func stop() {
        if stopping.exchange(true, ordering: .acquiringAndReleasing) { return }
        onlineTimer?.cancel()
        for child in aggregators.withLock({ Array($0.values) }) { child.terminate() }
        wake.signal()
        serverBox.withLock { $0 }?.stop()
        dashboardServer.withLock { $0 }?.stop()
        if runnerDone.wait(timeout: .now() + 30) == .timedOut { logger.error("the experiment runner did not stop within 30 s") }
        if experimentThreads.wait(timeout: .now() + 30) == .timedOut { logger.error("the experiments' runners did not stop within 30 s") }
        store.synchronize()
        synchronizeAnalytics()
        announcements.sync {}
        stopped.signal()
    }

    /// Blocks until `stop()` has finished.
    public func waitUntilStopped() {
        stopped.wait()
        stopped.signal()
    }

    // MARK: State

    /// Runs `body` with the state locked, schedules the writes it caused and the announcement of
    /// its events (in order, while still locked: two changes' events are logged and reported in the
    /// order the changes were made), then sends the replies it queued.
    @discardableResult
    func mutate<R: Sendable>(_ body: (inout DirectorState) throws -> R) rethrows -> R {
        let (result, outbox, events, wakeRunner) = try state.withLock { s -> (R, [(Responder, any WireMessage)], [DirectorEvent], Bool) in
            let result = try body(&s)
            if !s.changedEnvoys.isEmpty {
                store.save(envoys: s.changedEnvoys.compactMap { s.envoys[$0]?.record })
                s.changedEnvoys = []
            }
            let changed = s.saveChangedExperiments(to: store)
            if !s.events.isEmpty {
                let events = s.events
                announcements.async { [self] in announce(events) }
            }
            defer {
                s.outbox = []
                s.events = []
            }
            return (result, s.outbox, s.events, changed || !s.events.isEmpty)
        }
        // On each peer's writer: a stalled peer holds up neither the others nor the timer queue.
        for (responder, message) in outbox { responder.post(message) }
        dropDeparted(events)
        if wakeRunner { wake.signal() }
        return result
    }

    /// Announces events decided outside `mutate` (after those already queued) and acts on them.
    func emit(_ events: [DirectorEvent]) {
        announcements.async { [self] in announce(events) }
        dropDeparted(events)
    }

    /// Logs `events` and hands them to `onEvent`; on `announcements` only, so in decision order.
    private func announce(_ events: [DirectorEvent]) {
        for event in events {
            switch event {
            case .envoyRefused, .experimentFinished, .requestRefused: logger.warning(event.logLine)
            case let .stateUnsaved(problem) where !problem.isEmpty: logger.error(event.logLine)
            case .roundStarted: logger.debug(event.logLine)
            default: logger.info(event.logLine)
            }
            onEvent(event)
        }
    }

    /// A participant that is gone is dropped from its experiment's rounds at once.
    private func dropDeparted(_ events: [DirectorEvent]) {
        for event in events {
            switch event {
            case let .envoyOffline(envoy):
                participantDeparted(envoy, reason: "its Envoy went offline")
            case let .siteUpdated(experiment, envoy, state, reason) where state == .failed || state == .finished:
                participantDeparted(envoy, from: experiment, reason: "its collaborator \(state == .failed ? "failed" : "exited")\(reason.isEmpty ? "" : ": \(reason)")")
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
            s.waiters.removeAll { $0.responder.peer === peer }
            s.watchers.removeAll { $0.responder.peer === peer }
        }
    }

    /// Heartbeats are taken on the server's event loop: see `heartbeat(_:_:)`.
    public func handlesOnLoop(_ message: any WireMessage) -> Bool { message is EnvoyHeartbeat }

    public func handle(_ request: Request) {
        if stopping.load(ordering: .acquiring) {
            return request.responder.fail(.shuttingDown, "the Director is shutting down")
        }
        switch request.message {
        case let m as EnvoyRegistration: asEnvoy(request) { register(m, request) }
        case let m as EnvoyHeartbeat: heartbeat(m, request)
        case let m as WorkRequest: asEnvoy(request) { work(m, request) }
        case let m as ArchiveRequest: asEnvoy(request) { archive(m, request) }
        case let m as SiteReport: asEnvoy(request) { report(m, request) }
        case let m as SubmitExperiment: asUser(request) { submit(m, request) }
        case is ExperimentListRequest: asUser(request) { listExperiments(request) }
        case let m as ExperimentStatusRequest: asUser(request) { status(m, request) }
        case let m as ExperimentModelRequest: asUser(request) { model(m, request) }
        case let m as CancelExperiment: asUser(request) { cancel(m, request) }
        case is EnvoyListRequest: asUser(request) { listEnvoys(request) }
        case let m as SubmitAnalytics: asUser(request) { submitAnalytics(m, request) }
        case let m as AnalyticsResultRequest: asUser(request) { analyticsResult(m, request) }
        case let m as AnalyticsAnswer: asEnvoy(request) { analyticsAnswer(m, request) }
        default:
            refuse(request, .badRequest, "\(type(of: request.message)) is not something a Director answers")
        }
    }

    /// Runs `body` when the sender's certificate is an Envoy's; refuses it otherwise.
    func asEnvoy(_ request: Request, _ body: () -> Void) {
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
    static func refusal(_ s: inout DirectorState, _ request: Request, _ code: ErrorReply.Code, _ reason: String) {
        s.events.append(.requestRefused(peer: request.peer.name, role: request.peer.role?.rawValue ?? "none",
                                        request: "\(type(of: request.message))", reason: reason))
        s.outbox.append((request.responder, ErrorReply(code, reason)))
    }

    /// Whether `peer` may see, follow, download or cancel experiment `x`: its submitter, or an admin.
    static func owns(_ peer: PeerConnection, _ x: ExperimentInfo) -> Bool {
        peer.role == .admin || (peer.role == .user && x.submittedBy == peer.name)
    }

    /// Experiment `name` when `request`'s sender may `what` it; otherwise the refusal is queued and nil returned.
    static func ownedExperiment(_ s: inout DirectorState, _ name: String, _ request: Request, _ what: String) -> ExperimentInfo? {
        guard let x = s.experiment(name) else {
            s.outbox.append((request.responder, ErrorReply(.notFound, "no experiment '\(name)'")))
            return nil
        }
        guard owns(request.peer, x) else {
            refusal(&s, request, .notAllowed, notOwned(x, what))
            return nil
        }
        return x
    }

    static func notOwned(_ x: ExperimentInfo, _ what: String) -> String {
        "experiment '\(x.name)' belongs to '\(x.submittedBy)'; only its submitter or an admin may \(what) it"
    }
}

/// A Director that cannot start or do what was asked, with the reason.
public struct DirectorError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
