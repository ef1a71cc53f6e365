import Foundation
import Synchronization
import FLCore
import FLWire
import FLPKI
import FLArchive

/// A data site's long-lived agent. It dials out to the Director (a site never accepts
/// connections), registers its shard, sends a heartbeat every period and long-polls for work. When
/// the Director offers an experiment it fetches the archive, checks it against the site's policy,
/// writes the decision to the audit log and reports it; when told to run, it starts the
/// collaborator executable on the site's shard, and reports how it ended.
///
/// It reconnects forever, with exponential backoff and jitter, when the Director is gone, and
/// registers again on every connection, so a restarted Director learns about it by itself.
///
/// It runs up to `capacity` collaborators at once, one per experiment, and says which in its
/// heartbeats and requests for work. Archives are downloaded on a short-lived connection of their
/// own, so a large one never holds up the heartbeats' replies on the main connection.
///
/// Threads: `run()` does the connecting and the work (and starts collaborators, which the kernel
/// ends if that thread ends); heartbeats go from a thread of each connection; a collaborator's
/// exit is noticed on its `ChildProcess` thread. Shared state lives in `state`.
public final class Envoy: Sendable {
    /// The settings in force: those it started with, and what `reload` has changed since.
    public var settings: EnvoySettings { live.withLock { $0 } }
    let live: Mutex<EnvoySettings>
    let logger: Logger
    private let onEvent: @Sendable (EnvoyEvent) -> Void
    let context: TLSContext
    let audit: AuditLog
    let collaboratorExecutable: String
    let state = Mutex(State())
    /// Connects again and again until `stop()`, which also ends a wait between attempts at once.
    private let reconnect: ReconnectLoop

    struct State: Sendable {
        var stopped = false
        var client: FrameClient?
        /// The experiments handled lately, most recent last, as reported in requests for work.
        var handled: [SiteWork] = []
        /// The collaborators running, by experiment: at most `capacity`.
        var collaborators: [String: (process: ChildProcess, launch: Int)] = [:]
        /// Experiments whose archive was fetched, approved and unpacked here: name → SHA-256.
        var prepared: [String: String] = [:]
        /// Reports that could not be sent yet (no connection); sent first on the next one.
        var unsent = UnsentReports()

        /// How many experiments are remembered for the Director: far more than run at once, so
        /// every one it may still ask about is there.
        static let handledKept = 64

        /// Records where the site is with `experiment`, as its most recent.
        mutating func note(_ experiment: String, launch: Int, _ state: SiteWorkState) {
            handled.removeAll { $0.experiment == experiment }
            handled.append(SiteWork(experiment: experiment, launch: launch, state: state))
            if handled.count > State.handledKept { handled.removeFirst(handled.count - State.handledKept) }
        }

        /// Marks `experiment`'s collaborator exited, when the site still counts it running at `launch` (any launch when nil).
        mutating func exited(_ experiment: String, launch: Int? = nil) {
            guard let i = handled.firstIndex(where: { $0.experiment == experiment }), handled[i].state == .running,
                  launch == nil || handled[i].launch == launch else { return }
            handled[i].state = .exited
        }

        /// What a request for work says: the most recent experiment, and all of them.
        func request(waiting seconds: Double) -> WorkRequest {
            let last = handled.last ?? SiteWork(experiment: "", launch: 0, state: .idle)
            return WorkRequest(experiment: last.experiment, launch: last.launch, state: last.state, maximumWaitSeconds: seconds, handled: handled)
        }
    }

    /// Checks the shard (its columns against the declared sample shape) and the TLS identity.
    /// `onEvent` hears when the Envoy is registered and when it lost the Director (a service
    /// manager's readiness and status lines come from there).
    public init(settings: EnvoySettings, logger: Logger, onEvent: @escaping @Sendable (EnvoyEvent) -> Void = { _ in }) throws {
        var checked = settings
        checked.shard = try Envoy.inspect(settings.shard, at: settings.shardPath)
        live = Mutex(checked)
        self.logger = logger
        self.onEvent = onEvent
        self.context = try TLSContext(settings.tls, side: .client)
        self.audit = try AuditLog(path: settings.auditLogPath)
        reconnect = ReconnectLoop(backoff: Backoff(initial: settings.initialBackoff, maximum: settings.maximumBackoff))
        guard let executable = settings.collaboratorExecutable ?? ChildProcess.siblingExecutable("fx-collaborator") else {
            throw EnvoyError("cannot find the fx-collaborator executable beside this one; build the package (swift build)")
        }
        collaboratorExecutable = executable
        try FileManager.default.createDirectory(atPath: settings.workDirectory, withIntermediateDirectories: true)
        // Archives half unpacked when an earlier Envoy died: nothing is being unpacked before `run()`.
        ArchiveExtractor.removeLeftovers(inFoldersOf: settings.workDirectory)
    }

    /// Reads the shard's header and counts its rows: the label column must be there and the other
    /// columns must make up the declared sample shape.
    static func inspect(_ shard: ShardDescriptor, at path: String) throws -> ShardDescriptor {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch { throw EnvoyError("cannot read the shard \(path): \(error)") }
        let lines = text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        guard let header = lines.first else { throw EnvoyError("the shard \(path) is empty") }
        let columns = header.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard columns.contains(shard.labelColumn) else {
            throw EnvoyError("the shard \(path) has no label column '\(shard.labelColumn)' (columns: \(columns.prefix(8).joined(separator: ", "))\(columns.count > 8 ? ", …" : ""))")
        }
        let features = columns.count - 1
        let declared = shard.sampleShape.reduce(1, *)
        guard features == declared else {
            throw EnvoyError("the shard \(path) has \(features) feature columns, but shard.sample_shape \(ShardDescriptor.text(shard.sampleShape)) says \(declared)")
        }
        var described = shard
        described.sampleCount = lines.dropFirst().filter { !$0.allSatisfy(\.isWhitespace) }.count
        return described
    }

    // MARK: Running

    /// Serves the Director until `stop()`. Throws when the Director turns this site away for good
    /// (wrong shapes, not allowed, a certificate it refuses); connection failures are retried forever.
    public func run() throws {
        defer { stopCollaborators(reason: "the Envoy is stopping", grace: settings.stopGrace) }
        _ = try reconnect.run(willWait: { reason, delay in
            logger.info("\(reason); retrying in \(String(format: "%.1f", delay)) s")
            onEvent(.waiting(reason: reason))
        }) { () throws -> ReconnectStep<Void> in
            let client: FrameClient
            let welcome: EnvoyWelcome
            do {
                (client, welcome) = try connect()
            } catch let error as ErrorReply where [.rejected, .notAllowed, .badRequest].contains(error.code) {
                throw EnvoyError("the Director refused '\(settings.name)': \(error.message)")
            } catch let error as TLSError {
                if error.isCertificateRefusal {
                    throw EnvoyError("cannot connect to the Director at \(settings.director): \(error) (a certificate problem that retrying cannot mend: a new certificate from the federation's CA, or the CA's own certificate, is needed)")
                }
                return .unreachable(reason: "Director at \(settings.director) not reachable (\(error))")
            } catch let error as EnvoyError {
                throw error
            } catch {
                return .unreachable(reason: "cannot register with the Director at \(settings.director) (\(error))")
            }
            session(client, welcome)
            return .lost(reason: "lost the Director at \(settings.director)", waitFirst: true)
        }
    }

    /// Stops the Envoy: `run()` returns, and a running collaborator is stopped.
    public func stop() {
        let client: FrameClient? = state.withLock { s in
            s.stopped = true
            return s.client
        }
        reconnect.stop()
        client?.close()
    }

    var isStopped: Bool { state.withLock { $0.stopped } }

    /// Whether the Envoy can still take its own state lock and has not been stopped: what a
    /// watchdog asks before it tells systemd the service is alive.
    public var isResponsive: Bool { !isStopped }

    /// A new connection to the Director (TLS, its certificate checked), not registered yet.
    func dial() throws -> FrameClient {
        try FrameClient.connect(to: settings.director, expecting: ExpectedPeer(name: settings.directorName, role: .director),
                                context: context, limits: FrameLimits(maximumStreamSize: settings.maximumArchiveSize),
                                timeout: settings.connectTimeout, idleTimeout: settings.idleTimeout)
    }

    private func connect() throws -> (FrameClient, EnvoyWelcome) {
        let client = try dial()
        do {
            return (client, try register(client))
        } catch {
            client.close()
            throw error
        }
    }

    private func register(_ client: FrameClient) throws -> EnvoyWelcome {
        let reply = try client.call(EnvoyRegistration(envoy: settings.name, shard: settings.shard, capacity: settings.capacity),
                                    timeout: settings.idleTimeout)
        guard let welcome = reply as? EnvoyWelcome else { throw EnvoyError("the Director answered the registration with \(type(of: reply))") }
        logger.info("registered with the Director at \(settings.director) (heartbeat every \(welcome.heartbeatPeriod) s)")
        onEvent(.registered(director: settings.director))
        return welcome
    }

    /// One connection's life: heartbeats on their own thread, requests for work on this one.
    private func session(_ client: FrameClient, _ welcome: EnvoyWelcome) {
        let (unsent, dropped) = state.withLock { s in
            s.client = client
            return s.unsent.take()
        }
        if dropped > 0 { logger.warning("\(dropped) reports made while the Director was unreachable were dropped; sending the newest \(unsent.count)") }
        for report in unsent { send(report) }
        let ended = DispatchSemaphore(value: 0)
        let heartbeatDone = DispatchSemaphore(value: 0)
        let heartbeats = Thread { [self] in
            heartbeatLoop(client, period: welcome.heartbeatPeriod, ended: ended)
            heartbeatDone.signal()
        }
        heartbeats.name = "envoy-heartbeat"
        heartbeats.stackSize = 256 << 10
        heartbeats.start()
        defer {
            state.withLock { s in if s.client === client { s.client = nil } }
            client.close()
            ended.signal()
            heartbeatDone.wait()
        }
        while !isStopped {
            let wait = settings.longPollSeconds
            let ask: WorkRequest = state.withLock { s in s.request(waiting: wait) }
            do {
                let reply = try client.call(ask, timeout: settings.longPollSeconds + settings.idleTimeout)
                if let task = reply as? AnalyticsTask {
                    try answer(task, client)
                    continue
                }
                guard let assignment = reply as? WorkAssignment else {
                    logger.warning("the Director answered a request for work with \(type(of: reply))")
                    return
                }
                try handle(assignment, client)
            } catch let error as ErrorReply where error.code == .unknownPeer {
                logger.info("the Director does not know this site any more; registering again")
                do { _ = try register(client) } catch {
                    logger.warning("registering again failed: \(error)")
                    return
                }
            } catch {
                if !isStopped { logger.warning("connection to the Director lost: \(error)") }
                return
            }
        }
    }

    private func heartbeatLoop(_ client: FrameClient, period: Double, ended: DispatchSemaphore) {
        var load = SystemLoad()
        _ = load.cpuPercent()
        while ended.wait(timeout: .now() + period) == .timedOut {
            let (running, last, pids) = state.withLock { s in
                (s.collaborators.keys.sorted(), s.handled.last?.experiment ?? "", s.collaborators.values.map(\.process.pid))
            }
            let resident = ResourceUsage.residentBytes() + pids.reduce(0) { $0 + (ResourceUsage.of(pid: $1)?.residentBytes ?? 0) }
            let beat = EnvoyHeartbeat(cpuPercent: load.cpuPercent(), residentBytes: resident, availableBytes: SystemLoad.availableBytes(),
                                      collaboratorRunning: !running.isEmpty, experiment: running.first ?? last, running: running)
            do {
                // Archives travel on connections of their own; this one carries only small requests.
                try client.call(beat, timeout: max(2 * period, settings.idleTimeout))
            } catch let error as ErrorReply where error.code == .unknownPeer {
                logger.info("the Director does not know this site any more; registering again")
                do { _ = try register(client) } catch {
                    client.close()
                    return
                }
            } catch {
                // The work loop sees the same failure and reconnects.
                client.close()
                return
            }
        }
    }

    // MARK: Work

    private func handle(_ assignment: WorkAssignment, _ client: FrameClient) throws {
        switch assignment.action {
        case .wait:
            return
        case .offer:
            logger.info("offered experiment '\(assignment.experiment)' (archive \(assignment.archiveSHA256))")
            _ = try prepare(assignment, client)
            state.withLock { s in s.note(assignment.experiment, launch: 0, .decided) }
        case .run:
            try runCollaborator(assignment, client)
        case .stop:
            let running = state.withLock { s in s.collaborators[assignment.experiment] != nil }
            if running {
                logger.info("experiment '\(assignment.experiment)' ended at the Director (\(assignment.reason)); stopping its collaborator")
                stopCollaborator(assignment.experiment, reason: assignment.reason, grace: settings.stopGrace, waitFirst: 1)
            } else {
                state.withLock { s in s.exited(assignment.experiment) }
            }
        }
    }

    /// Makes sure the experiment's archive is here, unpacked and allowed by the site's policy, and
    /// reports the decision. The policy is checked every time (at the offer, at every launch and
    /// relaunch, after a restart), so an approval withdrawn meanwhile stops the next launch.
    /// Returns whether the site takes part. Connection failures are thrown (the caller reconnects).
    func prepare(_ assignment: WorkAssignment, _ client: FrameClient) throws -> Bool {
        let name = assignment.experiment
        func refuse(_ reason: String) -> Bool {
            logger.warning("refused experiment '\(name)': \(reason)")
            record(AuditRecord(experiment: name, sha256: assignment.archiveSHA256, decision: .refused, reason: reason, launch: assignment.launch))
            send(SiteReport(experiment: name, launch: assignment.launch, event: .refused, reason: reason))
            return false
        }
        do { try PKI.validate(name: name) } catch { return refuse("the experiment's name cannot be a folder name: \(error)") }
        let sha256 = assignment.archiveSHA256
        let unpacked = state.withLock({ $0.prepared[name] }) == sha256 && FileManager.default.fileExists(atPath: workspace(of: name).planPath)
        if !unpacked {
            guard assignment.archiveSize <= settings.maximumArchiveSize else {
                return refuse("the archive is \(assignment.archiveSize) bytes; this site takes at most \(settings.maximumArchiveSize) (limits.max_archive_bytes)")
            }
            let directory = "\(settings.workDirectory)/\(name)"
            try? FileManager.default.removeItem(atPath: directory)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let archive = "\(directory)/archive.tar"
            let received = try download(name, size: assignment.archiveSize, to: archive)
            let digest: String
            switch received {
            case let .failure(error): return refuse(error.description)
            case let .success(d): digest = d
            }
            guard digest == sha256 else {
                return refuse("the archive arrived with SHA-256 \(digest), not the \(sha256) announced")
            }
            if case .allowList = settings.policy, let reason = policyRefusal(sha256: sha256, workspace: nil) { return refuse(reason) }
            do {
                _ = try Workspace.importArchive(archive, into: workspace(of: name).root)
            } catch {
                return refuse("the archive does not unpack: \(error)")
            }
        }
        if let reason = policyRefusal(sha256: sha256, workspace: workspace(of: name)) {
            state.withLock { _ = $0.prepared.removeValue(forKey: name) }
            return refuse(reason)
        }
        state.withLock { $0.prepared[name] = sha256 }
        if unpacked {
            // Decided already (for a Director that may have restarted since): say so again.
            if assignment.action == .offer { send(SiteReport(experiment: name, launch: assignment.launch, event: .accepted)) }
            return true
        }
        logger.info("accepted experiment '\(name)' (archive \(sha256), policy \(settings.policy))")
        record(AuditRecord(experiment: name, sha256: sha256, decision: .accepted, reason: "policy \(settings.policy)", launch: assignment.launch))
        send(SiteReport(experiment: name, launch: assignment.launch, event: .accepted))
        return true
    }

    /// Why the site refuses the archive `sha256` (unpacked in `workspace`, when it is), or nil: its
    /// policy, and once unpacked, a plan it cannot read or a model beyond its limit.
    private func policyRefusal(sha256: String, workspace: Workspace?) -> String? {
        if case let .allowList(path) = settings.policy {
            do {
                guard try ArchiveAllowList.load(path).contains(sha256) else {
                    return "archive \(sha256) is not in this site's allow-list \(path) (approve it with `fx envoy approve \(sha256)`)"
                }
            } catch {
                return "cannot read the allow-list: \(error)"
            }
        }
        guard let workspace else { return nil }
        let plan: ExperimentPlan
        do {
            plan = try ExperimentPlan.load(workspace: workspace, installation: try? Installation.locate())
        } catch {
            return "the plan does not load: " + "\(error)".replacingOccurrences(of: workspace.root + "/", with: "")
        }
        guard plan.layout.count <= settings.maximumModelParameters else {
            return "the plan's model has \(plan.layout.count) parameters; this site trains at most \(settings.maximumModelParameters) (limits.max_model_parameters)"
        }
        if case .builtin = settings.policy, case .external = plan.runner {
            return "the workspace's task runner is 'external', which runs the workspace's own code; this site's policy (builtin) runs only SwiftFL's built-in training (to run it, set policy.mode: allowlist and approve archive \(sha256) with `fx envoy approve`)"
        }
        return nil
    }

    func workspace(of experiment: String) -> Workspace { Workspace(root: "\(settings.workDirectory)/\(experiment)/workspace") }

    // MARK: Reports

    /// Sends a report now if connected, else keeps it for the next connection.
    func send(_ report: SiteReport) {
        guard let client = state.withLock({ $0.client }) else { return keep(report) }
        do {
            try client.call(report, timeout: settings.idleTimeout)
        } catch let error as ErrorReply {
            logger.warning("the Director did not take the report on '\(report.experiment)': \(error.message)")
        } catch {
            keep(report)
        }
    }

    /// Keeps a report for the next connection; the first one dropped for want of room is logged.
    private func keep(_ report: SiteReport) {
        let (firstDropped, capacity) = state.withLock { ($0.unsent.append(report), $0.unsent.capacity) }
        if firstDropped {
            logger.warning("more than \(capacity) reports wait for the Director; dropping the oldest from now on")
        }
    }

    func record(_ entry: AuditRecord) {
        do { try audit.append(entry) } catch { logger.error("cannot write the audit log \(audit.path): \(error)") }
    }

    func lastLine(of path: String) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").last.map { String($0.prefix(500)) } ?? ""
    }
}
