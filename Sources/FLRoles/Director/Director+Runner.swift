#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FLCore
import FLWire

/// The runner: one scheduling thread that starts experiments as `DirectorState.schedule` allows
/// (first come, first served, with backfill; see there), and one thread per experiment being run.
/// That thread offers the archive to the online Envoys, waits for their decisions, prepares the
/// workspace for those that accepted, starts `fx-aggregator` on the experiment's port and follows
/// its JSON events until it exits; then the experiment's slots and port are free again.
extension Director {
    func runLoop() {
        var waitingLogged = ""
        while !stopping.load(ordering: .acquiring) {
            let seen = wake.generation
            let current = settings
            let (starts, waiting) = mutate { s in s.schedule(current) }
            for start in starts {
                let thread = Thread { [self] in
                    execute(start.name, resume: start.resume)
                    experimentThreads.leave()
                    // Its slots and port are free: another experiment may start now.
                    wake.signal()
                }
                experimentThreads.enter()
                thread.name = "director-experiment"
                thread.start()
            }
            if !waiting.isEmpty && waiting != waitingLogged { logger.info(waiting) }
            waitingLogged = waiting
            if starts.isEmpty {
                // Nothing changes by itself but the start-up grace: look again at least every second.
                wake.wait(after: seen, timeout: 1)
            }
        }
    }

    private func execute(_ name: String, resume: Bool) {
        let participants: [String]
        if resume {
            participants = state.withLock { $0.running[name]?.participants ?? [] }
            logger.info("resuming experiment '\(name)' from its last checkpoint with \(participants.joined(separator: ", "))")
        } else {
            guard let accepted = offer(name) else { return }
            participants = accepted
        }

        let prepared: (plan: ExperimentPlan, workspace: Workspace)
        do {
            let list = try writeParticipants(name, participants, resume: resume)
            prepared = try prepareWorkspace(name, participants: list, resume: resume)
            mutate { s in s.running[name]?.participantRows = list.participants.map(\.sampleCount) }
        } catch {
            return finish(name, .failed, "cannot prepare the experiment's workspace: \(error)")
        }
        let plan = prepared.plan
        mutate { s in
            s.running[name]?.workspaceRoot = prepared.workspace.root
            s.running[name]?.bestModel = plan.aggregator.bestModelPath
            s.running[name]?.lastModel = plan.aggregator.lastModelPath
            s.running[name]?.layout = plan.layout
            s.update(name) { x in
                x.roundsToTrain = plan.roundsToTrain
                x.bestMetric = plan.aggregator.bestMetric
                x.collaborators = participants
            }
        }
        runAggregator(name, workspace: prepared.workspace, plan: plan)
    }

    // MARK: Offering

    /// Waits (up to the decision timeout) for the answers of the Envoys the experiment was offered
    /// to when it was scheduled. Returns those that accepted, or nil when the experiment ended here
    /// (nobody accepted, cancelled) or the Director is stopping.
    private func offer(_ name: String) -> [String]? {
        let candidates: [String] = state.withLock { s in s.running[name]?.candidates ?? [] }
        let deadline = Deadline.after(seconds: settings.decisionTimeout)
        var cancelled = false
        while true {
            let seen = wake.generation
            let (pending, cancel) = state.withLock { s -> ([String], Bool) in
                let x = s.experiment(name)!
                let pending = candidates.filter { c in x.site(c)?.state == .offered && s.envoys[c].map { s.isOnline($0) } == true }
                return (pending, s.running[name]?.cancelRequested ?? false)
            }
            if stopping.load(ordering: .acquiring) { return nil }
            if cancel {
                cancelled = true
                break
            }
            if pending.isEmpty || deadline.hasPassed { break }
            wake.wait(after: seen, timeout: max(0.001, deadline.remainingSeconds))
        }
        let (accepted, summary): ([String], String) = mutate { s in
            for c in candidates where s.experiment(name)!.site(c)?.state == .offered {
                let online = s.envoys[c].map { s.isOnline($0) } == true
                s.setSite(name, c, .absent, reason: online ? "no answer within \(settings.decisionTimeout) s" : "went offline")
            }
            let x = s.experiment(name)!
            let accepted = candidates.filter { x.site($0)?.state == .accepted }
            let summary = x.sites.filter { $0.state != .accepted }.map { "\($0.envoy) \($0.state.rawValue)\($0.reason.isEmpty ? "" : " (\($0.reason))")" }
            if !accepted.isEmpty && !cancelled {
                s.running[name]?.participants = accepted
                s.running[name]?.phase = .starting
                s.update(name) { $0.collaborators = accepted }
            }
            return (accepted, summary.joined(separator: "; "))
        }
        if cancelled {
            finish(name, .cancelled, "cancelled while the sites were deciding")
            return nil
        }
        guard !accepted.isEmpty else {
            finish(name, .failed, "no Envoy accepted the experiment" + (summary.isEmpty ? "" : ": \(summary)"))
            return nil
        }
        return accepted
    }

    // MARK: Workspace

    /// Unpacks the archive into the experiment's workspace (kept as it is when resuming) and writes
    /// the initial model as `fx plan initialize` does, except that nothing the workspace holds is ever
    /// run here. The participants are the sites that accepted, whatever the archive's `cols.yaml` says
    /// (the aggregator and every collaborator get the same list).
    private func prepareWorkspace(_ name: String, participants: ParticipantList, resume: Bool) throws -> (ExperimentPlan, Workspace) {
        let workspace = store.workspace(of: name)
        if !resume || !FileManager.default.fileExists(atPath: workspace.planPath) {
            try? FileManager.default.removeItem(atPath: workspace.root)
            _ = try Workspace.importArchive(store.archivePath(of: name), into: workspace.root)
        }
        let plan = try ExperimentPlan.load(workspace: workspace, installation: try? Installation.locate(), participants: participants)
        try workspace.createOutputDirectories()
        if !resume || !FileManager.default.fileExists(atPath: plan.initialModelPath) {
            try Safetensors.write(plan.initialModel(runningCommands: false), to: plan.initialModelPath,
                                  metadata: plan.modelMetadata.merging(["created_by": "fx director"]) { _, own in own })
        }
        return (plan, workspace)
    }

    /// Writes the participants and the rows each registered, which the aggregator caps their
    /// weights at; returns the list. A resumed experiment keeps the list it started with.
    private func writeParticipants(_ name: String, _ participants: [String], resume: Bool) throws -> ParticipantList {
        let path = store.participantsPath(of: name)
        if resume, let kept = try? ParticipantList.read(from: path), kept.names == participants { return kept }
        let list = ParticipantList(participants: state.withLock { s in
            participants.map { ParticipantList.Participant(name: $0, sampleCount: max(1, s.envoys[$0]?.record.shard.sampleCount ?? 1)) }
        })
        try list.write(to: path)
        return list
    }

    // MARK: The aggregator

    private func runAggregator(_ name: String, workspace: Workspace, plan: ExperimentPlan) {
        let (launch, port): (Int, Int) = mutate { s in
            s.update(name) { x in
                x.launches += 1
                x.status = .running
                x.reason = ""
            }
            let launch = s.experiment(name)!.launches
            s.running[name]?.launch = launch
            s.running[name]?.phase = .starting
            return (launch, s.running[name]?.port ?? 0)
        }
        // The Director chooses the aggregator's identity itself; the plan's agg_name never picks a key.
        var arguments = ["--workspace", workspace.root, "--experiment", name, "--host", settings.aggregatorHost, "--port", "\(port)",
                         "--events", "--commands", "--cert-dir", settings.certificateDirectory, "--name", settings.aggregatorName,
                         "--participants", store.participantsPath(of: name)]
        if launch > 1 { arguments.append("--resume") }
        if let crl = settings.revocationListPath { arguments += ["--crl", crl] }
        let errorLog = "\(store.directory(of: name))/aggregator-\(launch).stderr"
        let child: ChildProcess
        do {
            child = try ChildProcess(executable: aggregatorExecutable, arguments: arguments,
                                     environment: ChildProcess.environmentEndingWithThisProcess(), standardInputPipe: true,
                                     standardOutput: .pipe, standardError: .file(errorLog))
        } catch {
            return finish(name, .failed, "cannot start the aggregator: \(error)")
        }
        aggregators.withLock { $0[name] = child }
        if stopping.load(ordering: .acquiring) || state.withLock({ $0.running[name]?.cancelRequested ?? false }) { child.terminate() }
        logger.info("experiment '\(name)': aggregator started (pid \(child.pid), launch \(launch))")

        var outcome: AggregatorOutcome?
        if let output = child.standardOutput {
            var pending = Data()
            while true {
                let data = output.availableData
                if data.isEmpty { break }
                pending.append(data)
                while let newline = pending.firstIndex(of: 0x0A) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...newline)
                    if let event = AggregatorEvent(jsonLine: line) { follow(event, of: name, launch: launch, outcome: &outcome) }
                }
            }
        }
        var status = child.wait(timeout: 30)
        if status == nil {
            logger.warning("experiment '\(name)': the aggregator closed its output but did not exit; killing it")
            status = child.stop(grace: 0)
        }
        aggregators.withLock { _ = $0.removeValue(forKey: name) }
        if stopping.load(ordering: .acquiring) {
            logger.info("experiment '\(name)' stays running: it resumes from its last checkpoint when the Director starts again")
            mutate { s in s.running[name] = nil }
            return
        }
        keepResults(of: name, workspace: workspace, plan: plan)
        let cancelled = state.withLock { $0.running[name]?.cancelRequested ?? false }
        if cancelled {
            finish(name, .cancelled, "cancelled while running", outcome: outcome)
        } else if let outcome, outcome.succeeded, status == .exited(0) {
            finish(name, .succeeded, outcome.reason, outcome: outcome)
        } else {
            let said = outcome.map { $0.reason } ?? lastLine(of: errorLog)
            let how = status.map { "\($0)" } ?? "did not exit"
            finish(name, .failed, "the aggregator \(how)" + (said.isEmpty ? "" : ": \(said)"), outcome: outcome)
        }
    }

    /// Tells the running aggregator of experiment `name` (if it runs) to carry out `command`.
    func tellAggregator(_ command: AggregatorCommand, experiment name: String) {
        let line = Data((command.jsonLine + "\n").utf8)
        aggregators.withLock { children in
            guard let input = children[name]?.standardInput, state.withLock({ $0.running[name] != nil }) else { return }
            do { try FileDescriptorIO.writeAll(input.fileDescriptor, line, path: "the aggregator's standard input") } catch {
                logger.warning("experiment '\(name)': cannot tell the aggregator \(command.jsonLine): \(error)")
            }
        }
    }

    /// A participant of experiments being run has gone (its Envoy went offline: every experiment it
    /// takes part in; its collaborator exited: `experiment` only): their aggregators are told at
    /// once, so no round waits for it.
    func participantDeparted(_ envoy: String, from experiment: String? = nil, reason: String) {
        let names: [String] = state.withLock { s in
            s.runningInOrder.filter { r in
                guard r.participants.contains(envoy), experiment == nil || experiment == r.name else { return false }
                return r.phase != .preparing
            }.map(\.name)
        }
        for name in names {
            logger.info("experiment '\(name)': \(envoy) departed (\(reason)); its aggregator goes on without it")
            tellAggregator(.depart(collaborator: envoy, reason: reason), experiment: name)
        }
    }

    /// Records one aggregator event.
    private func follow(_ event: AggregatorEvent, of name: String, launch: Int, outcome: inout AggregatorOutcome?) {
        switch event {
        case let .listening(port):
            mutate { s in
                guard let r = s.running[name] else { return }
                s.running[name]?.phase = .running(port: port)
                s.events.append(.experimentStarted(experiment: name, launch: launch, port: port, collaborators: r.participants))
                s.serveWaiters()
            }
        case let .roundStarted(round, _, _, _):
            mutate { s in
                s.update(name) { $0.currentRound = round }
                s.events.append(.roundStarted(experiment: name, round: round))
            }
        case let .roundClosed(info), let .roundRecovered(info):
            let recovered = if case .roundRecovered = event { true } else { false }
            mutate { s in
                s.update(name) { x in
                    // Every round once: a round run again after a restart replaces what was recorded of
                    // it, and one recovered from the aggregator's journal fills what was missed.
                    x.rounds.removeAll { $0.round == info.round && $0.finalValidation == info.finalValidation }
                    x.rounds.append(info)
                    x.rounds.sort { $0.round < $1.round }
                    if !info.finalValidation && !info.bestValidation { x.roundsCompleted = max(x.roundsCompleted, info.round + 1) }
                    x.lastMetrics = x.rounds.last { !$0.bestValidation }?.metrics ?? info.metrics
                    if info.best, let value = info.metrics[x.bestMetric] { x.bestValue = value }
                }
                if !recovered { s.events.append(.roundClosed(experiment: name, round: info)) }
            }
        case .checkpointSaved:
            break
        case let .updateRejected(collaborator, reason):
            logger.warning("experiment '\(name)': update from '\(collaborator)' rejected: \(reason)")
            dashboard.addRejectedUpdate()
        case let .finished(o):
            outcome = o
        }
    }

    /// Copies the aggregator's best and last models and its metrics into the experiment's folder,
    /// each reached inside the workspace without links, and the models only once they read back as
    /// the experiment's model.
    private func keepResults(of name: String, workspace: Workspace, plan: ExperimentPlan) {
        let copies: [(relative: String, destination: String, layout: ModelLayout?)] = [
            (plan.aggregator.bestModelPath, store.modelPath(of: name, .best), plan.layout),
            (plan.aggregator.lastModelPath, store.modelPath(of: name, .last), plan.layout),
            (plan.aggregator.metricsLogPath, store.metricsPath(of: name), nil),
        ]
        for copy in copies {
            let source = workspace.resolve(copy.relative)
            guard FileManager.default.fileExists(atPath: source) else { continue }
            do {
                let fd = copy.layout == nil
                    ? try ContainedPath.openForReading(copy.relative, inside: workspace.root)
                    : try VerifiedModel.open(copy.relative, inside: workspace.root, layout: copy.layout)
                defer { close(fd) }
                try AtomicFile.copy(from: fd, sourcePath: source, to: copy.destination)
            } catch {
                logger.error("experiment '\(name)': cannot keep \(source): \(error)")
            }
        }
    }

    /// Ends experiment `name` with `status`, and tells its sites; its Envoys' slots and its port are free again.
    func finish(_ name: String, _ status: ExperimentStatus, _ reason: String, outcome: AggregatorOutcome? = nil) {
        mutate { s in
            s.update(name) { x in
                x.status = status
                x.reason = reason
                x.finishedAt = Date().timeIntervalSince1970
                x.currentRound = -1
                if let o = outcome {
                    x.roundsCompleted = max(x.roundsCompleted, o.roundsCompleted)
                    if let best = o.bestValue { x.bestValue = best }
                    if !o.finalMetrics.isEmpty { x.lastMetrics = o.finalMetrics }
                }
            }
            s.running[name] = nil
            s.renumberQueue()
            s.events.append(.experimentFinished(experiment: name, status: status, reason: reason))
            s.serveWaiters()
        }
    }

    private func lastLine(of path: String) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").last.map { String($0.prefix(500)) } ?? ""
    }
}
