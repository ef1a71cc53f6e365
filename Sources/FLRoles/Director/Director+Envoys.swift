import Foundation
import FLCore
import FLWire

// What Envoys ask: registration, heartbeats, work, archives and their sites' reports.
extension Director {

    func register(_ m: EnvoyRegistration, _ request: Request) {
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
            entry.capacity = m.capacity
            entry.record.lastRegistration = now
            entry.connection = peer.serial
            entry.lastHeard = .now
            s.envoys[name] = entry
            s.changedEnvoys.insert(name)
            s.events.append(.envoyRegistered(envoy: name, shard: m.shard))
            s.checkOnline(name)
            s.outbox.append((request.responder, EnvoyWelcome(heartbeatPeriod: settings.heartbeatPeriod, sampleShape: settings.sampleShape,
                                                              targetShape: settings.targetShape)))
            return nil
        }
        if let conflict { request.responder.fail(.conflict, conflict) }
    }

    /// Whether `peer` is the registered connection of its Envoy.
    func registered(_ s: DirectorState, _ peer: PeerConnection) -> Bool {
        s.envoys[peer.name]?.connection == peer.serial
    }

    private static let unknown = "this Director does not know you (it may have restarted): register first"

    /// Heartbeats are handled on the server's event loop (`handlesOnLoop`), ten thousand a second
    /// with as many Envoys: the common case is two fields set under the state lock and a reply.
    /// Whatever logs or writes (an Envoy coming back online is an event; a refusal is logged) goes
    /// to `slowHeartbeats`, so the loop never waits for a disk.
    func heartbeat(_ m: EnvoyHeartbeat, _ request: Request) {
        let peer = request.peer
        guard let role = peer.role, Director.envoyRoles.contains(role) else {
            return Director.slowHeartbeats.async { [self] in asEnvoy(request) {} }
        }
        enum Standing { case online, returning, unknown }
        let standing: Standing = state.withLock { s in
            guard registered(s, peer) else { return .unknown }
            s.envoys[peer.name]!.lastHeard = .now
            s.envoys[peer.name]!.heartbeat = m
            return s.envoys[peer.name]!.announcedOnline ? .online : .returning
        }
        if standing != .unknown {
            dashboard.record(peer.name, DashboardRecorder.Sample(time: Date().timeIntervalSince1970, cpuPercent: m.cpuPercent,
                                                                 residentBytes: m.residentBytes, availableBytes: m.availableBytes))
        }
        switch standing {
        case .online:
            request.responder.reply(OkReply())
        case .returning:
            request.responder.reply(OkReply())
            Director.slowHeartbeats.async { [self] in mutate { s in s.checkOnline(peer.name) } }
        case .unknown:
            request.responder.fail(.unknownPeer, Director.unknown)
        }
    }

    /// Where heartbeats' rare slow cases run, off the event loop, in arrival order.
    static let slowHeartbeats = DispatchQueue(label: "swiftfl.director.heartbeats")

    func work(_ m: WorkRequest, _ request: Request) {
        let peer = request.peer
        let wait = min(m.maximumWaitSeconds, settings.longPollSeconds)
        let token: UInt64? = mutate { s in
            guard registered(s, peer) else {
                s.outbox.append((request.responder, ErrorReply(.unknownPeer, Director.unknown)))
                return nil
            }
            s.envoys[peer.name]!.work = m
            if let task = analytics.withLock({ $0.takeTask(for: peer.name) }) {
                s.outbox.append((request.responder, task))
                return nil
            }
            if let answer = s.assignment(for: peer.name, m) {
                s.outbox.append((request.responder, answer))
                return nil
            }
            if wait <= 0 {
                s.outbox.append((request.responder, WorkAssignment(action: .wait)))
                return nil
            }
            return s.waiters.hold(DirectorState.WorkWaiter(envoy: peer.name, request: m, responder: request.responder))
        }
        guard let token else { return }
        timers.asyncAfter(deadline: .now() + wait) { [weak self] in
            self?.mutate { s in
                if let waiter = s.waiters.take(token) { s.outbox.append((waiter.responder, WorkAssignment(action: .wait))) }
            }
        }
    }

    func archive(_ m: ArchiveRequest, _ request: Request) {
        let peer = request.peer
        let found: ExperimentInfo? = state.withLock { s in
            // Any connection of a registered Envoy (its certificate names it): the Envoy downloads on
            // a short-lived connection of its own, so its heartbeats never wait behind an archive.
            guard s.envoys[peer.name]?.connection != nil, let x = s.experiment(m.experiment) else { return nil }
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
        // On a streaming thread, not this connection's: that one goes on reading while a large archive
        // is on its way (an Envoy of an older version asks on its main connection, where its
        // heartbeats' replies then wait for the stream).
        request.responder.post(ArchiveReply(experiment: x.name, sha256: x.archiveSHA256), stream: source)
    }

    func report(_ m: SiteReport, _ request: Request) {
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
                if let r = s.running[x.name], m.launch < r.launch { break }
                s.setSite(x.name, name, m.succeeded ? .finished : .failed, reason: m.reason, exitStatus: m.exitStatus)
            }
            s.outbox.append((request.responder, OkReply()))
        }
    }
}
