import Foundation
import FLCore
import FLWire
import FLArchive

// Running collaborators (up to `capacity` at once, one per experiment) and fetching archives.
extension Envoy {
    /// Starts the collaborator of `assignment` (replacing one of an earlier launch of the same
    /// experiment), once the archive is here and allowed.
    func runCollaborator(_ assignment: WorkAssignment, _ client: FrameClient) throws {
        let name = assignment.experiment
        // A collaborator of an earlier launch talks to an aggregator that is gone: replace it.
        if state.withLock({ $0.collaborators[name] != nil }) {
            stopCollaborator(name, reason: "the experiment's aggregator was restarted", grace: settings.stopGrace)
        }
        let allowed = try prepare(assignment, client)
        state.withLock { s in s.note(name, launch: assignment.launch, .decided) }
        guard allowed else { return }
        guard assignment.collaborators.contains(settings.name) else {
            logger.warning("told to run '\(name)', whose collaborators (\(assignment.collaborators.joined(separator: ", "))) do not include '\(settings.name)'")
            return
        }
        let others = state.withLock { s in s.collaborators.keys.filter { $0 != name }.sorted() }
        guard others.count < settings.capacity else {
            // The Director books no site beyond the capacity it registered; one that does is refused.
            let reason = "this site runs at most \(settings.capacity) collaborators at once (capacity), and runs \(others.joined(separator: ", "))"
            return notStarted(assignment, reason: reason)
        }
        // The Director's participants, whatever the archive's cols.yaml says.
        let participantsPath = "\(settings.workDirectory)/\(name)/participants-\(assignment.launch).json"
        do {
            let rows = assignment.collaboratorRows.count == assignment.collaborators.count
                ? assignment.collaboratorRows : assignment.collaborators.map { _ in 1 }
            try ParticipantList(participants: zip(assignment.collaborators, rows).map { .init(name: $0, sampleCount: max(1, $1)) })
                .write(to: participantsPath)
        } catch {
            logger.error("experiment '\(name)': cannot write its participants: \(error)")
            return notStarted(assignment, reason: "\(error)", audit: false)
        }
        startCollaborator(assignment, participantsPath: participantsPath)
    }

    /// Reports a collaborator that could not start, and records it in the audit log when `audit`.
    private func notStarted(_ assignment: WorkAssignment, reason: String, audit: Bool = true) {
        if audit {
            logger.error(reason)
            record(AuditRecord(experiment: assignment.experiment, sha256: assignment.archiveSHA256, decision: .finished, reason: reason,
                               exitStatus: "not started", launch: assignment.launch))
        }
        send(SiteReport(experiment: assignment.experiment, launch: assignment.launch, event: .collaboratorExited, reason: reason,
                        exitStatus: "not started"))
        state.withLock { $0.note(assignment.experiment, launch: assignment.launch, .exited) }
    }

    private func startCollaborator(_ assignment: WorkAssignment, participantsPath: String) {
        let name = assignment.experiment
        let launch = assignment.launch
        let errorLog = "\(settings.workDirectory)/\(name)/collaborator-\(launch).stderr"
        let aggregator = Endpoint(host: assignment.aggregatorHost, port: assignment.aggregatorPort)
        let arguments = ["--name", settings.name, "--workspace", workspace(of: name).root, "--experiment", name,
                         "--aggregator", aggregator.description, "--aggregator-name", assignment.aggregatorName,
                         "--data", settings.shardPath, "--cert-dir", settings.certificateDirectory, "--participants", participantsPath,
                         "--min-statistics-rows", "\(settings.minimumStatisticsRows)",
                         // Outside the experiment's folder, which is unpacked afresh after an Envoy restart;
                         // no experiment's folder can be named with a leading dot.
                         "--state-dir", "\(settings.workDirectory)/.state/\(name)"]
            + (settings.revocationListPath.map { ["--crl", $0] } ?? [])
        let process: ChildProcess
        do {
            process = try ChildProcess(executable: collaboratorExecutable, arguments: arguments,
                                       environment: ChildProcess.environmentEndingWithThisProcess(),
                                       standardOutput: .null, standardError: .file(errorLog))
        } catch {
            return notStarted(assignment, reason: "cannot start the collaborator: \(error)")
        }
        state.withLock { s in
            s.collaborators[name] = (process, launch)
            s.note(name, launch: launch, .running)
        }
        logger.info("experiment '\(name)': collaborator started (pid \(process.pid)) against the aggregator at \(aggregator)")
        record(AuditRecord(experiment: name, sha256: assignment.archiveSHA256, decision: .started, reason: "aggregator \(aggregator)", launch: launch))
        send(SiteReport(experiment: name, launch: launch, event: .collaboratorStarted))
        let sha256 = assignment.archiveSHA256
        process.onExit { [self] status in
            state.withLock { s in
                if s.collaborators[name]?.process === process { s.collaborators[name] = nil }
                s.exited(name, launch: launch)
            }
            let reason = status.isSuccess ? "" : lastLine(of: errorLog)
            if status.isSuccess {
                logger.info("experiment '\(name)': collaborator \(status)")
            } else {
                logger.warning("experiment '\(name)': collaborator \(status)\(reason.isEmpty ? "" : ": \(reason)")")
            }
            record(AuditRecord(experiment: name, sha256: sha256, decision: .finished, reason: reason, exitStatus: "\(status)", launch: launch))
            send(SiteReport(experiment: name, launch: launch, event: .collaboratorExited, reason: reason, exitStatus: "\(status)",
                            succeeded: status.isSuccess))
        }
    }

    /// Stops the collaborator of `experiment`: waits `waitFirst` seconds for it to end by itself,
    /// then SIGTERM, then SIGKILL after `grace` seconds.
    func stopCollaborator(_ experiment: String, reason: String, grace: Double, waitFirst: Double = 0) {
        guard let running = state.withLock({ $0.collaborators[experiment] }) else { return }
        if waitFirst > 0, running.process.wait(timeout: waitFirst) != nil { return }
        logger.info("stopping the collaborator of '\(experiment)' (\(reason))")
        running.process.stop(grace: grace)
    }

    /// Stops every collaborator, all at once (each gets `grace` seconds).
    func stopCollaborators(reason: String, grace: Double) {
        let names = state.withLock { Array($0.collaborators.keys) }
        let group = DispatchGroup()
        for name in names {
            group.enter()
            let thread = Thread { [self] in
                stopCollaborator(name, reason: reason, grace: grace)
                group.leave()
            }
            thread.start()
        }
        group.wait()
    }

    /// Fetches experiment `name`'s archive into `path` on a connection of its own, closed after:
    /// the main connection's heartbeats and requests never wait behind the stream. Returns its
    /// SHA-256, or why it is refused; connection failures are thrown (the caller reconnects).
    func download(_ name: String, size: Int, to path: String) throws -> Result<String, EnvoyError> {
        let client = try dial()
        defer { client.close() }
        // Held to the size announced with the offer (and, by the connection's limits, to the site's limit).
        return try client.call(ArchiveRequest(experiment: name), timeout: settings.idleTimeout) { reply, stream in
            guard reply is ArchiveReply, let stream else { throw EnvoyError("the Director sent no archive for '\(name)'") }
            guard stream.byteCount == size else {
                return .failure(EnvoyError("the archive stream has \(stream.byteCount) bytes, not the \(size) announced"))
            }
            return .success(try ArchiveReceiver.receive(stream, to: path))
        }
    }
}
