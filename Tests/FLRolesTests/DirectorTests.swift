import Foundation
import Testing
import FLCore
import FLRoles
import FLTesting
import FLWire

/// Records a Director's events and lets a test wait, with a deadline, for one to happen.
final class DirectorEventRecorder: @unchecked Sendable {
    private let condition = NSCondition()
    private var events: [DirectorEvent] = []

    func record(_ event: DirectorEvent) {
        condition.lock()
        events.append(event)
        condition.broadcast()
        condition.unlock()
    }

    var all: [DirectorEvent] {
        condition.lock()
        defer { condition.unlock() }
        return events
    }

    /// The first event matching `predicate`, waiting up to `timeout` seconds.
    @discardableResult
    func wait(timeout: Double = 60, _ what: String, where predicate: (DirectorEvent) -> Bool) throws -> DirectorEvent {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let e = events.first(where: predicate) { return e }
            if !condition.wait(until: deadline) {
                if let e = events.first(where: predicate) { return e }
                throw ProcessUnderTestError("no \(what) within \(timeout) s; events: \(events.map(\.logLine).joined(separator: "\n"))")
            }
        }
    }

    func waitForFinish(_ experiment: String, timeout: Double = 60) throws -> (ExperimentStatus, String) {
        let e = try wait(timeout: timeout, "end of '\(experiment)'") {
            if case let .experimentFinished(name, _, _) = $0 { return name == experiment }
            return false
        }
        guard case let .experimentFinished(_, status, reason) = e else { fatalError() }
        return (status, reason)
    }
}

/// A Director and its Envoys in this process (the aggregators and collaborators they start are
/// real processes), laid out by `DirectorFixture` and configured from its files.
final class InProcessFederation: @unchecked Sendable {
    let fixture: DirectorFixture
    let director: Director
    let events = DirectorEventRecorder()
    let logs = LogRecorder()
    let port: Int
    private var envoys: [String: (envoy: Envoy, done: DispatchSemaphore)] = [:]
    private let lock = NSLock()

    init(envoys names: [String] = ["hospital_a", "hospital_b", "hospital_c"], fixture: DirectorFixture? = nil) throws {
        self.fixture = try fixture ?? DirectorFixture(envoys: names)
        let settings = try DirectorSettings.load(path: self.fixture.directorConfigurationPath)
        let events = self.events
        director = try Director(settings: settings, logger: logs.logger(label: "director", minimumLevel: .info)) { events.record($0) }
        port = try director.start()
        for name in names { try startEnvoy(name) }
        for name in names {
            try events.wait(timeout: 30, "registration of \(name)") { $0 == .envoyOnline(envoy: name) }
        }
    }

    func startEnvoy(_ name: String) throws {
        let settings = try EnvoySettings.load(path: fixture.envoyConfigurationPath(name), name: name, director: Endpoint(host: "127.0.0.1", port: port))
        let envoy = try Envoy(settings: settings, logger: logs.logger(label: name, minimumLevel: .info))
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            try? envoy.run()
            done.signal()
        }
        thread.start()
        lock.lock()
        envoys[name] = (envoy, done)
        lock.unlock()
    }

    func client(_ user: String = "alice") throws -> DirectorClient {
        try DirectorClient(director: Endpoint(host: "127.0.0.1", port: port),
                           tls: TLSConfiguration(certificateDirectory: fixture.userCertificateDirectory(user), name: user))
    }

    func submit(_ workspace: String, as name: String) throws -> ExperimentInfo {
        try client().submit(workspace: Workspace(root: workspace), name: name)
    }

    /// Stops the Envoys (their collaborators with them) and the Director.
    func shutdown() {
        lock.lock()
        let all = envoys.values
        envoys = [:]
        lock.unlock()
        for e in all { e.envoy.stop() }
        for e in all { _ = e.done.wait(timeout: .now() + 30) }
        director.stop()
    }

    deinit { shutdown() }
}

/// A Director's behaviour with real Envoys, aggregators and collaborators: cancelling, failures and
/// what the Envoys report.
@Suite(.serialized) struct DirectorTests {
    @Test func cancelledExperimentsEndAndTheQueueMovesOn() throws {
        let federation = try InProcessFederation()
        defer { federation.shutdown() }
        let long = try federation.fixture.makeWorkspace("long", rounds: 10_000)
        let short = try federation.fixture.makeWorkspace("short", rounds: 2)
        let client = try federation.client()
        _ = try federation.submit(long, as: "long")
        let waiting = try federation.submit(short, as: "waiting")
        _ = try federation.submit(short, as: "short")
        #expect(waiting.status == .queued)

        // A queued experiment is cancelled at once and never offered.
        let cancelled = try client.cancel("waiting")
        #expect(cancelled.status == .cancelled)
        #expect(cancelled.queuePosition == 0)
        #expect(try client.status("short").status == .queued)

        // A running one: its aggregator is stopped and the sites are told to stop their collaborators.
        try federation.events.wait(timeout: 60, "a round of 'long'") {
            if case let .roundClosed(name, _) = $0 { return name == "long" }
            return false
        }
        _ = try client.cancel("long")
        let (status, _) = try federation.events.waitForFinish("long")
        #expect(status == .cancelled)
        for site in ["hospital_a", "hospital_b", "hospital_c"] {
            let ended = federation.logs.waitForLine(timeout: 30) {
                $0.label == site && $0.message.hasPrefix("experiment 'long': collaborator") && !$0.message.contains("started")
            }
            #expect(ended != nil, "the collaborator of 'long' at \(site) did not end")
        }
        #expect(try federation.events.waitForFinish("short").0 == .succeeded)
        #expect(!federation.events.all.contains { if case .experimentOffered("waiting", _) = $0 { true } else { false } })
        let long_ = try client.status("long")
        #expect(long_.status == .cancelled)
        #expect(long_.roundsCompleted >= 1 && long_.roundsCompleted < 10_000)
        // Cancelling again is refused.
        #expect(throws: ErrorReply.self) { try client.cancel("long") }
    }

    @Test func sitesWhoseNamesTheTemplateDoesNotKnowTakePart() throws {
        let sites = (1...8).map { "site_\($0)" }
        let federation = try InProcessFederation(envoys: sites)
        defer { federation.shutdown() }
        // The breast-cancer template's cols.yaml lists hospital_a, hospital_b and hospital_c only.
        let workspace = try federation.fixture.makeWorkspace("eight", rounds: 3)
        #expect(try String(contentsOfFile: "\(workspace)/plan/cols.yaml", encoding: .utf8).contains("hospital_a"))
        _ = try federation.submit(workspace, as: "eight")
        let (status, reason) = try federation.events.waitForFinish("eight", timeout: 120)
        #expect(status == .succeeded, "\(reason)")
        let info = try federation.client().status("eight")
        #expect(info.collaborators == sites)
        #expect(info.sites.allSatisfy { $0.state == .finished }, "\(info.sites)")
        #expect(info.rounds.allSatisfy { $0.reported == sites && $0.missing.isEmpty })
        // Each site's collaborator was told the participants and their registered rows.
        let list = try ParticipantList.read(from: "\(federation.fixture.envoyDirectory("site_5"))/work/eight/participants-1.json")
        #expect(list.names == sites && list.participants.allSatisfy { $0.sampleCount > 100 })
    }

    @Test func anAggregatorThatFailsFailsItsExperimentAndTheNextOneRuns() throws {
        let federation = try InProcessFederation(envoys: ["hospital_a", "hospital_b"])
        defer { federation.shutdown() }
        // The plan's metrics log is a folder: the aggregator cannot open it and exits with an error.
        let broken = try federation.fixture.makeWorkspace("broken", rounds: 2)
        try appendPlan(broken, "aggregator:\n  defaults: defaults/aggregator.yaml\n  settings:", "\n    metrics_log: plan")
        let fine = try federation.fixture.makeWorkspace("fine", rounds: 2)
        _ = try federation.submit(broken, as: "broken")
        _ = try federation.submit(fine, as: "fine")
        let (status, reason) = try federation.events.waitForFinish("broken")
        #expect(status == .failed)
        #expect(reason.contains("the aggregator exited with status 1"), "\(reason)")
        #expect(reason.contains("plan"), "\(reason)")
        #expect(try federation.events.waitForFinish("fine").0 == .succeeded)
        let fineInfo = try federation.client().status("fine")
        #expect(fineInfo.lastMetrics["aggregated_model_validation/accuracy"] ?? 0 > 0.9)
        // The results are kept in the state directory.
        let store = federation.director.store
        #expect(FileManager.default.fileExists(atPath: store.modelPath(of: "fine", .best)))
        #expect(try MetricsLog.read(store.metricsPath(of: "fine")).contains { $0.origin == "aggregator" })
    }

    @Test func aCollaboratorThatDiesIsReportedByItsEnvoy() throws {
        let federation = try InProcessFederation(envoys: ["hospital_a", "hospital_b"])
        defer { federation.shutdown() }
        // The sites' data has no column named 'diagnosis': every collaborator fails to load it.
        let workspace = try federation.fixture.makeWorkspace("mislabelled", rounds: 2)
        try appendPlan(workspace, "label_column: label", "", replacing: "label_column: diagnosis")
        try appendPlan(workspace, "aggregator:\n  defaults: defaults/aggregator.yaml\n  settings:", "\n    round_timeout: 1\n    on_shortfall: fail")
        _ = try federation.submit(workspace, as: "mislabelled")
        for site in ["hospital_a", "hospital_b"] {
            try federation.events.wait(timeout: 60, "the failure at \(site)") {
                if case let .siteUpdated("mislabelled", envoy, .failed, reason) = $0 { return envoy == site && reason.contains("diagnosis") }
                return false
            }
        }
        #expect(try federation.events.waitForFinish("mislabelled").0 == .failed)
        let info = try federation.client().status("mislabelled")
        #expect(info.sites.map(\.state) == [.failed, .failed])
        #expect(info.sites.allSatisfy { $0.exitStatus == "exited with status 1" })
        let audit = try AuditLog.read(federation.fixture.auditLogPath("hospital_a"))
        #expect(audit.map(\.decision) == [.accepted, .started, .finished])
        #expect(audit.last?.exit_status == "exited with status 1")
    }

    @Test func theQueueWaitsForEnoughEnvoysAndRefusesBrokenSubmissions() throws {
        let fixture = try DirectorFixture(envoys: ["hospital_a"])
        let federation = try InProcessFederation(envoys: [], fixture: fixture)
        defer { federation.shutdown() }
        let client = try federation.client()
        let workspace = try fixture.makeWorkspace("ready", rounds: 2)
        // A plan for another number of features than the federation's samples is refused at submission.
        let wide = try fixture.makeWorkspace("wide", rounds: 2)
        try appendPlan(wide, "input_features: 30", "", replacing: "input_features: 31")
        let wrongShape = #expect(throws: ErrorReply.self) { try client.submit(workspace: Workspace(root: wide), name: "wide") }
        #expect(wrongShape?.message.contains("31 features") == true && wrongShape?.message.contains("[30]") == true, "\(String(describing: wrongShape))")
        // So is a misspelt setting, at its line, with the name it was meant to be.
        let misspelt = try fixture.makeWorkspace("misspelt", rounds: 2)
        try appendPlan(misspelt, "rounds_to_train: 2", "", replacing: "rounds_to_trian: 2")
        let unknown = #expect(throws: ErrorReply.self) { try client.submit(workspace: Workspace(root: misspelt), name: "misspelt") }
        #expect(unknown?.message.contains("plan/plan.yaml:6:5: aggregator.settings: unknown setting 'rounds_to_trian' (did you mean rounds_to_train?)") == true,
                "\(String(describing: unknown))")
        let badName = #expect(throws: ErrorReply.self) { try client.submit(workspace: Workspace(root: workspace), name: "../escape") }
        #expect(badName?.code == .badRequest)
        _ = try client.submit(workspace: Workspace(root: workspace), name: "ready")
        let twice = #expect(throws: ErrorReply.self) { try client.submit(workspace: Workspace(root: workspace), name: "ready") }
        #expect(twice?.code == .conflict)
        // No Envoy online: it stays queued until one registers.
        #expect(try client.status("ready").status == .queued)
        try federation.startEnvoy("hospital_a")
        #expect(try federation.events.waitForFinish("ready").0 == .succeeded)
        let envoys = try client.envoys().envoys
        #expect(envoys.map(\.name) == ["hospital_a"])
        #expect(envoys[0].online)
        #expect(envoys[0].shard.sampleCount == 190)
    }

    /// Inserts `addition` after `anchor` in the workspace's plan (or replaces `anchor` with `replacement`).
    private func appendPlan(_ workspace: String, _ anchor: String, _ addition: String, replacing replacement: String? = nil) throws {
        let path = "\(workspace)/plan/plan.yaml"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard text.contains(anchor) else { throw ProcessUnderTestError("\(path) has no '\(anchor)'") }
        try text.replacingOccurrences(of: anchor, with: (replacement ?? anchor) + addition).write(toFile: path, atomically: true, encoding: .utf8)
    }
}
