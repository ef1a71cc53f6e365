import Foundation
import FLCore
import FLWire
import FLPKI

// What data scientists ask: submissions, lists, status, models and cancellation.
extension Director {

    func submit(_ m: SubmitExperiment, _ request: Request) {
        let user = request.peer.name
        do { try PKI.validate(name: m.name) } catch {
            return refuse(request, .badRequest, "experiment name: \(error)")
        }
        for envoy in m.envoys {
            do { try PKI.validate(name: envoy) } catch { return refuse(request, .badRequest, "Envoy name '\(envoy)': \(error)") }
        }
        let envoys = Array(Set(m.envoys)).sorted()
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
            sha256 = try ArchiveReceiver.receive(stream, to: upload)
            guard sha256 == m.sha256.lowercased() else {
                return refuse(request, .rejected, "the archive arrived with SHA-256 \(sha256), not the \(m.sha256) announced")
            }
            plan = try ArchiveReceiver.check(upload, scratch: "\(upload).check", sampleShape: settings.sampleShape)
            let directory = store.directory(of: m.name)
            try? FileManager.default.removeItem(atPath: directory)  // left by a crash before the experiment was recorded
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            if !envoys.isEmpty {
                try AtomicFile.write(JSONCoding.encoder().encode(envoys), to: Director.requestedEnvoysPath(store, m.name))
            }
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
            if !envoys.isEmpty { s.requestedEnvoys[m.name] = envoys }
            s.append(ExperimentInfo(name: m.name, archiveSHA256: sha256, archiveSize: size, submittedBy: user,
                                    submittedAt: Date().timeIntervalSince1970, roundsToTrain: plan.roundsToTrain,
                                    bestMetric: plan.aggregator.bestMetric))
            let x = s.experiment(m.name)!
            s.events.append(.experimentQueued(experiment: m.name, submittedBy: user, position: x.queuePosition))
            s.outbox.append((request.responder, s.statusReply(x)))
        }
    }

    func listExperiments(_ request: Request) {
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

    func status(_ m: ExperimentStatusRequest, _ request: Request) {
        let wait = min(m.maximumWaitSeconds, settings.longPollSeconds)
        let token: UInt64? = mutate { s in
            guard let x = Director.ownedExperiment(&s, m.name, request, "follow") else { return nil }
            if wait <= 0 || x.version > m.afterVersion || x.status.isFinal {
                s.outbox.append((request.responder, s.statusReply(x)))
                return nil
            }
            return s.watchers.hold(DirectorState.Watcher(experiment: m.name, afterVersion: m.afterVersion, responder: request.responder))
        }
        guard let token else { return }
        timers.asyncAfter(deadline: .now() + wait) { [weak self] in
            self?.mutate { s in
                if let w = s.watchers.take(token), let x = s.experiment(w.experiment) {
                    s.outbox.append((w.responder, s.statusReply(x)))
                }
            }
        }
    }

    func model(_ m: ExperimentModelRequest, _ request: Request) {
        // While the experiment runs, its model is the aggregator's file in the workspace; once it
        // has ended, the copy kept in the experiment's folder.
        let found: Result<(live: (root: String, relative: String, layout: ModelLayout?)?, x: ExperimentInfo), ErrorReply> = state.withLock { s in
            guard let x = s.experiment(m.name) else { return .failure(ErrorReply(.notFound, "no experiment '\(m.name)'")) }
            guard Director.owns(request.peer, x) else { return .failure(ErrorReply(.notAllowed, Director.notOwned(x, "download"))) }
            guard let r = s.running[m.name], let root = r.workspaceRoot,
                  let relative = m.which == .best ? r.bestModel : r.lastModel else { return .success((nil, x)) }
            return .success(((root, relative, r.layout), x))
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

    func cancel(_ m: CancelExperiment, _ request: Request) {
        let user = request.peer.name
        let terminate: Bool = mutate { s in
            guard let x = Director.ownedExperiment(&s, m.name, request, "cancel") else { return false }
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
                if s.running[m.name] != nil {
                    s.running[m.name]!.cancelRequested = true
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
            aggregators.withLock { $0[m.name] }?.terminate()
            wake.signal()
        }
    }

    func listEnvoys(_ request: Request) {
        let (envoys, slots) = state.withLock { ($0.envoyInfo(), $0.envoySlots()) }
        request.responder.reply(EnvoyListReply(envoys: envoys, heartbeatPeriod: settings.heartbeatPeriod, slots: slots))
    }

    /// Where the Envoys an experiment was submitted for are kept, beside its archive (a JSON list).
    static func requestedEnvoysPath(_ store: DirectorStore, _ experiment: String) -> String {
        "\(store.directory(of: experiment))/envoys.json"
    }

    /// The Envoys each experiment not started yet was submitted for (those submitted for every one have no file).
    static func requestedEnvoys(_ store: DirectorStore, _ experiments: [ExperimentInfo]) -> [String: [String]] {
        var requested: [String: [String]] = [:]
        for x in experiments where x.status == .queued || x.status == .preparing {
            guard let data = FileManager.default.contents(atPath: requestedEnvoysPath(store, x.name)),
                  let envoys = try? JSONCoding.decoder().decode([String].self, from: data), !envoys.isEmpty else { continue }
            requested[x.name] = envoys
        }
        return requested
    }
}
