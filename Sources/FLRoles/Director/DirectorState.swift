import Foundation
import FLCore
import FLWire

/// The Director's mutable state: the Envoy registry, every experiment, those being run, and the
/// requests being held. Owned by `Director.state` (a Mutex); every function here runs with it locked
/// and does no I/O: replies and events it decides on go to `outbox` and `events`, sent after unlocking.
struct DirectorState {
    /// One registered Envoy.
    struct Envoy {
        var record: EnvoyRecord
        /// Serial of the connection it registered on; nil while it is disconnected.
        var connection: UInt64?
        /// Last heartbeat (or registration) on the monotonic clock; nil when not heard from since the start.
        var lastHeard: Deadline?
        /// Whether it was online when last checked (so each change is announced once).
        var announcedOnline = false
        var heartbeat: EnvoyHeartbeat?
        /// What it said in its latest request for work.
        var work = WorkRequest(experiment: "", launch: 0, state: .idle, maximumWaitSeconds: 0)
        /// Collaborators it runs at once, as it registered (1 until it has, as after a restart).
        var capacity = 1
    }

    /// An experiment being run: from its offer (or its resumption) until it ends. Up to
    /// `settings.maximumConcurrent` at once, each with its own runner thread and aggregator.
    struct Running {
        enum Phase: Equatable {
            /// Offered to `candidates`; waiting for their decisions.
            case preparing
            /// The aggregator is starting.
            case starting
            /// The aggregator listens on `port`.
            case running(port: Int)
        }

        var name: String
        var phase: Phase
        var candidates: [String]
        var participants: [String] = []
        /// The rows each participant registered (the weights' caps), once the aggregator's list is written.
        var participantRows: [Int] = []
        var launch = 0
        var cancelRequested = false
        /// The port its aggregator is to listen on, taken from `aggregators.ports` when it was
        /// scheduled and free again once it has ended; 0 lets the system pick one.
        var port = 0
        /// Where the aggregator writes its models while it runs: paths inside `workspaceRoot`, as
        /// the plan names them, and the model they must hold.
        var workspaceRoot: String?
        var bestModel: String?
        var lastModel: String?
        var layout: ModelLayout?

        /// The Envoys it holds a slot of: those it is offered to while they decide, then those taking part.
        var booked: [String] { phase == .preparing ? candidates : participants }
    }

    /// A held request for work.
    struct WorkWaiter {
        var envoy: String
        var request: WorkRequest
        var responder: Responder
    }

    /// A held status request (`watch`).
    struct Watcher {
        var experiment: String
        var afterVersion: UInt64
        var responder: Responder
    }

    let settings: DirectorSettings
    var envoys: [String: Envoy] = [:]
    /// Every experiment in submission order.
    private(set) var experiments: [ExperimentInfo] = []
    private var index: [String: Int] = [:]
    /// Names being uploaded right now, so two submissions cannot take the same name.
    var reservedNames: Set<String> = []
    /// The experiments being run, by name.
    var running: [String: Running] = [:]
    /// The Envoys a queued experiment was submitted for (none listed: every online one).
    var requestedEnvoys: [String: [String]] = [:]
    var waiters = HeldRequests<WorkWaiter>()
    var watchers = HeldRequests<Watcher>()
    /// Envoys known from before the start; queued experiments wait (up to the grace) for them to return.
    var expectedEnvoys: Set<String> = []
    let startedAt = Deadline.now

    var outbox: [(Responder, any WireMessage)] = []
    var events: [DirectorEvent] = []
    /// Experiments changed since their records were last handed to the store.
    private(set) var changedExperiments: Set<String> = []
    var experimentsChanged: Bool { !changedExperiments.isEmpty }
    /// Envoys whose records changed since they were last handed to the store.
    var changedEnvoys: Set<String> = []

    /// What users should know about the Director itself (its state cannot be saved), or "".
    let stateWarning: @Sendable () -> String

    init(settings: DirectorSettings, stateWarning: @escaping @Sendable () -> String = { "" }) {
        self.settings = settings
        self.stateWarning = stateWarning
    }

    /// An experiment's status reply, with the Director's warning if it has one.
    func statusReply(_ x: ExperimentInfo) -> ExperimentStatusReply {
        ExperimentStatusReply(experiment: x, stateWarning: stateWarning())
    }

    // MARK: Recovery

    /// Takes the state found on disk after a start: experiments that were being prepared go back to
    /// the head of the queue; those that were running keep their status and are all resumed first.
    mutating func restore(envoys records: [EnvoyRecord], experiments stored: [ExperimentInfo]) {
        for r in records { envoys[r.name] = Envoy(record: r) }
        expectedEnvoys = Set(records.map(\.name))
        experiments = stored
        for i in experiments.indices where experiments[i].status == .preparing {
            experiments[i].status = .queued
            experiments[i].sites = []
            experiments[i].startedAt = nil
            experiments[i].version += 1
            changedExperiments.insert(experiments[i].name)
        }
        reindex()
        renumberQueue()
    }

    private mutating func reindex() {
        index = [:]
        for (i, x) in experiments.enumerated() { index[x.name] = i }
    }

    // MARK: Experiments

    func experiment(_ name: String) -> ExperimentInfo? { index[name].map { experiments[$0] } }

    /// Appends a newly submitted experiment to the queue.
    mutating func append(_ info: ExperimentInfo) {
        index[info.name] = experiments.count
        experiments.append(info)
        renumberQueue()
        changedExperiments.insert(info.name)
        notifyWatchers(info.name)
    }

    /// Changes one experiment, bumps its version and wakes whoever watches it.
    mutating func update(_ name: String, _ body: (inout ExperimentInfo) -> Void) {
        guard let i = index[name] else { return }
        body(&experiments[i])
        experiments[i].version += 1
        changedExperiments.insert(name)
        notifyWatchers(name)
    }

    /// Sets one site's entry of an experiment, adding it if missing.
    mutating func setSite(_ experiment: String, _ envoy: String, _ state: SiteInfo.State, reason: String = "", exitStatus: String? = nil) {
        update(experiment) { x in
            if let i = x.sites.firstIndex(where: { $0.envoy == envoy }) {
                x.sites[i].state = state
                x.sites[i].reason = reason
                if let exitStatus { x.sites[i].exitStatus = exitStatus }
            } else {
                x.sites.append(SiteInfo(envoy: envoy, state: state, reason: reason, exitStatus: exitStatus ?? ""))
            }
        }
        events.append(.siteUpdated(experiment: experiment, envoy: envoy, state: state, reason: reason))
    }

    /// Hands the records of the experiments changed since the last call to `store` (in submission
    /// order, so new ones are added in order): the cost depends on what changed, not on how many
    /// experiments there are. Returns whether there were any. The Director calls it after every change.
    mutating func saveChangedExperiments(to store: DirectorStore) -> Bool {
        guard !changedExperiments.isEmpty else { return false }
        let positions = changedExperiments.compactMap { index[$0] }.sorted()
        changedExperiments = []
        store.save(changed: positions.map { experiments[$0] })
        return true
    }

    /// Queue positions (1-based) of the queued experiments, in submission order.
    mutating func renumberQueue() {
        var position = 0
        for i in experiments.indices {
            let old = experiments[i].queuePosition
            if experiments[i].status == .queued {
                position += 1
                experiments[i].queuePosition = position
            } else {
                experiments[i].queuePosition = 0
            }
            if experiments[i].queuePosition != old {
                experiments[i].version += 1
                changedExperiments.insert(experiments[i].name)
                notifyWatchers(experiments[i].name)
            }
        }
    }

    /// The experiments being run, in submission order.
    var runningInOrder: [Running] {
        running.values.sorted { (index[$0.name] ?? 0) < (index[$1.name] ?? 0) }
    }

    // MARK: Envoys

    func isOnline(_ envoy: Envoy, now: Deadline = .now) -> Bool {
        guard envoy.connection != nil, let heard = envoy.lastHeard else { return false }
        return Double(now.uptimeNanoseconds &- heard.uptimeNanoseconds) / 1e9 < settings.offlineAfter
    }

    /// Online Envoys, sorted by name.
    func onlineEnvoys(now: Deadline = .now) -> [String] {
        envoys.compactMap { name, envoy in isOnline(envoy, now: now) ? name : nil }.sorted()
    }

    /// Announces Envoys whose online state changed since the last check (in name order).
    mutating func checkOnline(now: Deadline = .now) {
        let changed = envoys.compactMap { name, e in isOnline(e, now: now) != e.announcedOnline ? name : nil }
        for name in changed.sorted() { checkOnline(name, now: now) }
    }

    /// Announces `name` going online or offline when that changed: what a registration or a
    /// heartbeat needs, at the cost of one Envoy however many there are.
    mutating func checkOnline(_ name: String, now: Deadline = .now) {
        guard let envoy = envoys[name] else { return }
        let online = isOnline(envoy, now: now)
        guard online != envoy.announcedOnline else { return }
        envoys[name]!.announcedOnline = online
        events.append(online ? .envoyOnline(envoy: name) : .envoyOffline(envoy: name))
    }

    func envoyInfo(now: Deadline = .now) -> [EnvoyInfo] {
        envoys.values.sorted { $0.record.name < $1.record.name }.map { e in
            let age = e.lastHeard.map { Double(now.uptimeNanoseconds &- $0.uptimeNanoseconds) / 1e9 }
            let collaborating = e.heartbeat?.collaboratorRunning ?? e.work.handled.contains { $0.state == .running }
            // The experiments the site is part of now: those being run that are offered to it or run
            // there, else whatever its collaborators are still running.
            var current = runningInOrder.filter { $0.booked.contains(e.record.name) }.map(\.name)
            if current.isEmpty && collaborating {
                current = e.heartbeat?.running ?? e.work.handled.filter { $0.state == .running }.map(\.experiment)
            }
            return EnvoyInfo(name: e.record.name, shard: e.record.shard, online: isOnline(e, now: now), lastHeartbeatAge: age,
                             currentExperiment: current.joined(separator: ", "), collaboratorRunning: collaborating, cpuPercent: e.heartbeat?.cpuPercent ?? 0,
                             residentBytes: e.heartbeat?.residentBytes ?? 0, availableBytes: e.heartbeat?.availableBytes ?? 0,
                             registeredAt: e.record.registeredAt)
        }
    }

    /// Each Envoy's capacity and running collaborators, in `envoyInfo`'s order (by name).
    func envoySlots() -> [EnvoySlots] {
        envoys.values.sorted { $0.record.name < $1.record.name }.map { e in
            // The capacity is known once it registered since the start (it is not kept with the record).
            EnvoySlots(capacity: e.lastHeard == nil ? nil : e.capacity, running: e.heartbeat?.running)
        }
    }

    // MARK: Work for Envoys

    /// What `envoy` should do given what it last reported; nil means nothing yet (hold the request).
    /// One thing at a time: first a collaborator to stop, then the experiments being run in
    /// submission order (an offer to decide on, or an aggregator to run against).
    func assignment(for envoy: String, _ request: WorkRequest) -> WorkAssignment? {
        // A collaborator of an experiment that is over (or no longer counts on this site) is stopped first.
        for work in request.handled where work.state == .running {
            if let r = running[work.experiment], r.phase != .preparing, r.participants.contains(envoy) { continue }
            let x = experiment(work.experiment)
            let reason = x.map { $0.status.isFinal ? "experiment \($0.status.rawValue)" : "this site no longer takes part" } ?? "unknown experiment"
            return WorkAssignment(action: .stop, experiment: work.experiment, launch: work.launch, reason: reason)
        }
        for r in runningInOrder {
            if let answer = assignment(for: envoy, request, in: r) { return answer }
        }
        return nil
    }

    private func assignment(for envoy: String, _ request: WorkRequest, in r: Running) -> WorkAssignment? {
        guard let x = experiment(r.name) else { return nil }
        switch r.phase {
        case .preparing:
            // An Envoy reports its decision before it asks for work again, on the same connection, so a
            // site still `offered` here has not decided for this Director (it may have decided for the one
            // before a restart): offer again, and it reports again.
            guard r.candidates.contains(envoy), x.site(envoy)?.state == .offered else { return nil }
            return WorkAssignment(action: .offer, experiment: x.name, launch: 0, archiveSHA256: x.archiveSHA256, archiveSize: x.archiveSize)
        case .starting:
            return nil
        case let .running(port):
            guard r.participants.contains(envoy) else { return nil }
            if request.handled.contains(where: { $0.experiment == r.name && $0.launch == r.launch }) { return nil }
            return WorkAssignment(action: .run, experiment: x.name, launch: r.launch, archiveSHA256: x.archiveSHA256,
                                  archiveSize: x.archiveSize, aggregatorHost: settings.aggregatorAddress, aggregatorPort: port,
                                  aggregatorName: settings.aggregatorName, collaborators: r.participants,
                                  collaboratorRows: r.participantRows)
        }
    }

    /// Answers every held request for work that now has an answer.
    mutating func serveWaiters() {
        // Taken out while `assignment` reads the rest of the state (moved, not copied).
        var held = waiters
        waiters = HeldRequests()
        for (waiter, answer) in held.take(answering: { assignment(for: $0.envoy, $0.request) }) {
            outbox.append((waiter.responder, answer))
        }
        waiters = held
    }

    // MARK: Watchers

    private mutating func notifyWatchers(_ name: String) {
        guard let x = experiment(name) else { return }
        for w in watchers.take(where: { $0.experiment == name && x.version > $0.afterVersion }) {
            outbox.append((w.responder, statusReply(x)))
        }
    }
}
