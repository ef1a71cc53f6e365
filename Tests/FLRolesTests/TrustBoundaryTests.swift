#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import FLCore
import FLRoles
import FLTesting
@testable import FLWire
import FLPKI
import FLArchive

/// A federation of real processes (`fx director start`, `fx envoy start`, the aggregators and
/// collaborators they spawn) with an honest experiment running, for trying what an attacker holding
/// one of the federation's certificates would try.
final class LiveFederation: @unchecked Sendable {
    let fixture: DirectorFixture
    let director: ProcessUnderTest
    let port: Int
    private(set) var envoys: [String: ProcessUnderTest] = [:]

    /// A Director with `envoys` online, users alice, bob and mallory, and admin carol.
    init(envoys: [String] = ["hospital_a", "hospital_b", "hospital_c"], users: [String] = ["alice", "bob", "mallory"],
         admins: [String] = ["carol"], checksRevocation: Bool = false, prepare: (DirectorFixture) throws -> Void = { _ in }) throws {
        fixture = try DirectorFixture(envoys: envoys, users: users, admins: admins, checksRevocation: checksRevocation)
        try prepare(fixture)
        (director, port) = try fixture.startDirector()
        for name in envoys { try startEnvoy(name) }
    }

    func startEnvoy(_ name: String) throws {
        envoys[name] = try fixture.startEnvoy(name, port: port)
        try DirectorFixture.waitForEvent("envoy_online", ["envoy": name], in: director, timeout: 30)
    }

    /// A Director client with `user`'s certificate (a user or an admin).
    func client(_ user: String) throws -> DirectorClient {
        try DirectorClient(director: Endpoint(host: "127.0.0.1", port: port),
                           tls: TLSConfiguration(certificateDirectory: fixture.userCertificateDirectory(user), name: user))
    }

    /// `fx` with `user`'s certificate against this Director.
    func fx(_ arguments: [String], as user: String) throws -> (status: ChildProcess.Status, output: String, error: String) {
        try fixture.fxStatus(arguments + fixture.clientOptions(port: port, user: user))
    }

    /// Makes a breast-cancer workspace (`rounds` rounds) and lets `edit` change its plan text.
    func workspace(_ name: String, rounds: Int = 3, edit: (String) -> String = { $0 }) throws -> String {
        let path = try fixture.makeWorkspace(name, rounds: rounds)
        let plan = "\(path)/plan/plan.yaml"
        try edit(try String(contentsOfFile: plan, encoding: .utf8)).write(toFile: plan, atomically: true, encoding: .utf8)
        return path
    }

    /// A breast-cancer workspace whose external task runner's command (and so its `initialize:
    /// command`) would create `marker` wherever it ran.
    func externalWorkspace(_ name: String, touching marker: String, initialize: String) throws -> String {
        try workspace(name) { plan in
            plan.replacingOccurrences(of: "  template: builtin\n  settings:\n", with: """
                  template: external
                  settings:
                    command: [/bin/sh, -c, "touch \(marker)"]
                    tensors: {dense_0.weight: [2, 30], dense_0.bias: [2]}
                    initialize: \(initialize)

                """)
        }
    }

    /// Alice submits an honest experiment of `rounds` rounds and it starts; returns its name.
    @discardableResult
    func startHonest(_ name: String = "honest", rounds: Int = 150, edit: (String) -> String = { $0 }) throws -> String {
        let path = try workspace(name, rounds: rounds, edit: edit)
        _ = try client("alice").submit(workspace: Workspace(root: path), name: name)
        try DirectorFixture.waitForEvent("round_started", ["experiment": name], in: director, timeout: 60)
        return name
    }

    /// Waits for `experiment` to end; returns its final status and reason.
    func finish(_ experiment: String, timeout: Double = 120) throws -> (status: String, reason: String) {
        let line = try DirectorFixture.waitForEvent("experiment_finished", ["experiment": experiment], in: director, timeout: timeout)
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
        return (object["status"] as? String ?? "", object["reason"] as? String ?? "")
    }

    /// Expects the Director's log line refusing `request` from `peer`, waiting for it.
    func refusalLogged(_ request: String, from peer: String, containing text: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
        let line = try? director.waitForErrorLine(timeout: 20) { $0.contains("refused \(request) from '\(peer)'") && (text.isEmpty || $0.contains(text)) }
        #expect(line != nil, "no log line refusing \(request) from '\(peer)' (\(text)); the Director logged:\n\(director.errorTail(12))",
                sourceLocation: sourceLocation)
    }

    /// A TLS identity issued now by the federation's CA: `role` nil makes a certificate without a
    /// role, as CAs issued before roles existed.
    func identity(_ name: String, role: CertificateRole?) throws -> TLSConfiguration {
        let key = try PrivateKey.generate()
        let certificate = try fixture.authority.sign(CertificateRequest(name: name, key: key), optionalRole: role, validity: .days(1))
        let base = fixture.directory.appending("identity-\(name)-\(UUID().uuidString.prefix(6))")
        try key.write(to: "\(base).key")
        try certificate.write(to: "\(base).crt")
        return TLSConfiguration(caCertificatePath: fixture.authority.certificatePath, certificatePath: "\(base).crt", privateKeyPath: "\(base).key")
    }

    /// A raw connection to the Director with `tls`, for sending what the real clients never would.
    func connect(_ tls: TLSConfiguration) throws -> FrameClient {
        try FrameClient.connect(host: "127.0.0.1", port: port, context: TLSContext(tls, side: .client), timeout: 10, idleTimeout: 30,
                                expecting: ExpectedPeer(name: "director", role: .director))
    }

    /// Every file under the Director's state folder and the Envoys' folders whose name marks a
    /// temporary file left behind.
    func strayTemporaryFiles() -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: fixture.directory.path)
        var found: [String] = []
        while let path = enumerator?.nextObject() as? String {
            if (path as NSString).lastPathComponent.contains(".tmp.") { found.append(path) }
        }
        return found
    }
}

/// A site with a valid `envoy` certificate whose collaborator lies: it registers `registeredRows`,
/// accepts whatever it is offered, and when told to run, joins the aggregator under its own name and
/// answers every task with `update(round, layout)` claiming `claimedSamples` samples. It speaks the
/// protocol itself, on threads of its own, until the experiment ends or `stop()`.
final class RogueEnvoy: @unchecked Sendable {
    let name: String
    private let tls: TLSConfiguration
    private let director: FrameClient
    private let claimedSamples: Int
    private let update: @Sendable (Int, ModelLayout) -> [Float]
    private let lock = NSLock()
    private var stopped = false
    private var answers: [String] = []
    private let done = DispatchSemaphore(value: 0)

    init(name: String, certificateDirectory: String, directorPort port: Int, registeredRows: Int, claimedSamples: Int,
         update: @escaping @Sendable (Int, ModelLayout) -> [Float]) throws {
        self.name = name
        self.tls = TLSConfiguration(certificateDirectory: certificateDirectory, name: name)
        self.claimedSamples = claimedSamples
        self.update = update
        director = try FrameClient.connect(host: "127.0.0.1", port: port, context: TLSContext(tls, side: .client), timeout: 10, idleTimeout: 60,
                                           expecting: ExpectedPeer(name: "director", role: .director))
        let shard = ShardDescriptor(path: "rogue.csv", labelColumn: "label", sampleShape: [30], targetShape: [1], sampleCount: registeredRows)
        guard let welcome = try director.call(EnvoyRegistration(envoy: name, shard: shard), timeout: 10) as? EnvoyWelcome else {
            throw ProcessUnderTestError("the Director did not welcome \(name)")
        }
        let heartbeats = Thread { [self] in
            while !isStopped {
                _ = try? director.call(EnvoyHeartbeat(cpuPercent: 1, residentBytes: 1, availableBytes: 1, collaboratorRunning: false, experiment: ""),
                                       timeout: 10)
                Thread.sleep(forTimeInterval: welcome.heartbeatPeriod)  // a heartbeat's period, not a wait for an event
            }
        }
        heartbeats.start()
        let work = Thread { [self] in
            defer { done.signal() }
            try? serve()
        }
        work.start()
    }

    deinit { stop() }

    private var isStopped: Bool { lock.withLock { stopped } }

    /// What the aggregator answered each result (`ok`, or the error's message).
    var aggregatorAnswers: [String] { lock.withLock { answers } }

    func stop() {
        lock.withLock { stopped = true }
        director.close()
    }

    /// Waits until it has stopped taking part (the experiment ended, or `stop()`).
    func waitUntilDone(timeout: Double) -> Bool { done.wait(timeout: .now() + timeout) == .success }

    private func serve() throws {
        var (experiment, launch, state) = ("", 0, SiteWorkState.idle)
        while !isStopped {
            let reply = try director.call(WorkRequest(experiment: experiment, launch: launch, state: state, maximumWaitSeconds: 1), timeout: 20)
            guard let assignment = reply as? WorkAssignment else { continue }
            switch assignment.action {
            case .wait:
                continue
            case .offer:
                // Fetch the archive (as a real Envoy does), then accept it whatever it holds.
                try director.call(ArchiveRequest(experiment: assignment.experiment), timeout: 20) { _, stream in try stream?.skipRest() }
                try director.call(SiteReport(experiment: assignment.experiment, launch: 0, event: .accepted), timeout: 10)
                (experiment, launch, state) = (assignment.experiment, 0, .decided)
            case .run:
                (experiment, launch, state) = (assignment.experiment, assignment.launch, .running)
                try director.call(SiteReport(experiment: experiment, launch: launch, event: .collaboratorStarted), timeout: 10)
                try collaborate(assignment)
                try director.call(SiteReport(experiment: experiment, launch: launch, event: .collaboratorExited, exitStatus: "exited with status 0",
                                             succeeded: true), timeout: 10)
                state = .exited
                return
            case .stop:
                return
            }
        }
    }

    private func collaborate(_ assignment: WorkAssignment) throws {
        let aggregator = try FrameClient.connect(host: assignment.aggregatorHost, port: assignment.aggregatorPort, context: TLSContext(tls, side: .client),
                                                 timeout: 10, idleTimeout: 60,
                                                 expecting: ExpectedPeer(name: assignment.aggregatorName, role: .aggregator))
        defer { aggregator.close() }
        guard let welcome = try aggregator.call(CollaboratorHello(collaborator: name, experiment: assignment.experiment), timeout: 10) as? AggregatorWelcome else {
            throw ProcessUnderTestError("the aggregator did not welcome \(name)")
        }
        if welcome.wantsFeatureStatistics {
            // Statistics of far more rows than the site registered, to pull the standardizer its way.
            let features = welcome.layout.tensors.first { $0.name == "preprocess.mean" }?.count ?? 0
            let report = FeatureStatisticsReport(count: claimedSamples, sum: [Double](repeating: 1e12, count: features),
                                                 sumOfSquares: [Double](repeating: 1e30, count: features))
            do { try aggregator.call(report, timeout: 10); lock.withLock { answers.append("statistics: ok") } } catch let error as ErrorReply {
                lock.withLock { answers.append("statistics: \(error.message)") }
            }
        }
        var round = 0
        while !isStopped {
            guard let tasks = try aggregator.call(TaskRequest(round: round, maximumWaitSeconds: 2), timeout: 30) as? TaskReply else { continue }
            switch tasks.status {
            case .wait: continue
            case .done: return
            case .run: break
            }
            for task in tasks.tasks {
                let training = task == "train"
                let result = TaskResultMessage(round: tasks.round, task: task, sampleCount: claimedSamples,
                                               metrics: training ? ["loss": 0] : ["accuracy": 1, "loss": 0], layout: training ? welcome.layout : nil)
                let answer: String
                do {
                    if training {
                        try aggregator.call(result, stream: FloatBufferSource(update(tasks.round, welcome.layout)), timeout: 30)
                    } else {
                        try aggregator.call(result, timeout: 30)
                    }
                    answer = "ok"
                } catch let error as ErrorReply {
                    answer = error.message
                }
                lock.withLock { answers.append("round \(tasks.round) \(task): \(answer)") }
            }
            round = tasks.round + 1
        }
    }
}

/// Each way issue 11 found to get past the federation's trust boundaries, tried against real
/// processes while an honest experiment runs: each is refused, the Director's log names the
/// sender, and the honest experiment still completes. Positive controls check that every role can
/// still do what it should.
@Suite(.serialized) struct TrustBoundaryTests {
    /// 1. A submitted plan whose `initialize: command` the Director would have run.
    @Test func nothingASubmittedPlanSaysRunsAtTheDirector() throws {
        let federation = try LiveFederation()
        let honest = try federation.startHonest()
        let marker = federation.fixture.directory.appending("ran-at-the-director")
        let hostile = try federation.externalWorkspace("hostile", touching: marker, initialize: "command")
        let submitted = try federation.fx(["experiment", "submit", "--workspace", hostile, "--name", "hostile"], as: "mallory")
        #expect(submitted.status == .exited(1))
        #expect(submitted.error.contains("plan/plan.yaml:28:17: task_runner.settings.initialize: 'command' would run the workspace's code at the Director"),
                "\(submitted.error)")
        federation.refusalLogged("SubmitExperiment", from: "mallory", containing: "task_runner.settings.initialize")
        #expect(try federation.finish(honest).status == "succeeded")
        #expect(!FileManager.default.fileExists(atPath: marker), "the command ran")
        #expect(try federation.client("mallory").experiments().allSatisfy { $0.name != "hostile" })
    }

    /// 2. Plan paths that leave the workspace, an archive with something planted among the
    /// aggregator's outputs, and a plan choosing which key the aggregator loads.
    @Test func planPathsStayInTheWorkspaceAndTheDirectorChoosesTheAggregatorsKey() throws {
        let federation = try LiveFederation()
        // The honest plan asks for the Director's own certificate as the aggregator's: it is not
        // used, and the experiment runs with the aggregator's certificate all the same.
        let honest = try federation.startHonest { $0.replacingOccurrences(of: "network:\n  defaults: defaults/network.yaml\n",
                                                                        with: "network:\n  defaults: defaults/network.yaml\n  settings:\n    agg_name: director\n") }
        for (key, value, reason) in [("best_state_path", "../../../../cert/director.key", "contains '..'"),
                                     ("last_state_path", "/etc/passwd", "is absolute"),
                                     ("metrics_log", "../../../envoys.json", "contains '..'")] {
            let hostile = try federation.workspace("escape-\(key)") {
                $0.replacingOccurrences(of: "    rounds_to_train: 3\n", with: "    rounds_to_train: 3\n    \(key): \(value)\n")
            }
            let submitted = try federation.fx(["experiment", "submit", "--workspace", hostile, "--name", "escape"], as: "mallory")
            #expect(submitted.status == .exited(1))
            #expect(submitted.error.contains("plan/plan.yaml:7:") && submitted.error.contains("aggregator.settings.\(key): '\(value)' \(reason)"),
                    "\(submitted.error)")
            federation.refusalLogged("SubmitExperiment", from: "mallory", containing: "aggregator.settings.\(key)")
        }
        // An archive made by hand, with the best model planted as a link to the Director's key.
        let planted = try federation.workspace("planted")
        try FileManager.default.createDirectory(atPath: "\(planted)/save", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: "\(planted)/save/best.safetensors", withDestinationPath: "../plan/plan.yaml")
        let archive = federation.fixture.directory.appending("planted.tar")
        try TarWriter.archive(directory: planted, to: archive, modificationTime: Workspace.archiveModificationTime, symlinks: .store) { _, _ in true }
        let error = #expect(throws: ErrorReply.self) { try federation.client("mallory").submit(archive: archive, name: "planted") }
        #expect(error?.message.contains("the archive holds save/best.safetensors") == true, "\(error.map { "\($0)" } ?? "")")
        federation.refusalLogged("SubmitExperiment", from: "mallory", containing: "save/best.safetensors")

        #expect(try federation.finish(honest).status == "succeeded")
        #expect(federation.director.errorLines.contains { $0.contains("aggregator started") })
        // The model downloaded is a model, not a key.
        let output = federation.fixture.directory.appending("best.safetensors")
        try federation.client("alice").model(honest, .best, to: output)
        #expect(try Safetensors.read(output).model.layout.count == 62 + 60)  // the network and its preprocessing
    }

    /// 3. Roles: each certificate may do only what its role allows, and a certificate without a
    /// role is told how to get one.
    @Test func everyCertificateDoesOnlyWhatItsRoleAllows() throws {
        let federation = try LiveFederation()
        let honest = try federation.startHonest()
        let hospital = TLSConfiguration(certificateDirectory: "\(federation.fixture.envoyDirectory("hospital_a"))/cert", name: "hospital_a")
        let alice = TLSConfiguration(certificateDirectory: federation.fixture.userCertificateDirectory("alice"), name: "alice")
        let shard = ShardDescriptor(path: "x.csv", labelColumn: "label", sampleShape: [30], targetShape: [1], sampleCount: 100)

        // An Envoy's certificate cannot submit, list or download.
        let envoy = try federation.connect(hospital)
        defer { envoy.close() }
        let submit = #expect(throws: ErrorReply.self) { try envoy.call(ExperimentListRequest(), timeout: 10) }
        #expect(submit?.code == .notAllowed)
        #expect(submit?.message.contains("only a user or admin certificate may send ExperimentListRequest") == true)
        federation.refusalLogged("ExperimentListRequest", from: "hospital_a", containing: "envoy")
        #expect(throws: ErrorReply.self) { try envoy.call(ExperimentModelRequest(name: honest, which: .best), timeout: 10) }
        federation.refusalLogged("ExperimentModelRequest", from: "hospital_a")

        // A user's certificate cannot register as a site, even under a site's name.
        let user = try federation.connect(alice)
        defer { user.close() }
        let register = #expect(throws: ErrorReply.self) { try user.call(EnvoyRegistration(envoy: "alice", shard: shard), timeout: 10) }
        #expect(register?.code == .notAllowed)
        federation.refusalLogged("EnvoyRegistration", from: "alice", containing: "only an envoy certificate")
        let impostor = try federation.connect(federation.identity("hospital_d", role: .user))
        defer { impostor.close() }
        #expect(throws: ErrorReply.self) { try impostor.call(EnvoyRegistration(envoy: "hospital_d", shard: shard), timeout: 10) }
        #expect(throws: ErrorReply.self) { try impostor.call(WorkRequest(experiment: "", launch: 0, state: .idle, maximumWaitSeconds: 0), timeout: 10) }
        federation.refusalLogged("WorkRequest", from: "hospital_d")

        // Servers' certificates and certificates without a role are turned away at the door.
        for (name, role) in [("old-laptop", nil), ("director", CertificateRole.director), ("aggregator", .aggregator)] as [(String, CertificateRole?)] {
            let client = try federation.connect(federation.identity(name, role: role))
            defer { client.close() }
            let error = #expect(throws: ErrorReply.self) { try client.call(ExperimentListRequest(), timeout: 10) }
            if role == nil {
                #expect(error?.message.contains("carries no SwiftFL role; reissue it with a role: `fx pki certify --name old-laptop --role ROLE`") == true,
                        "\(error.map { "\($0)" } ?? "")")
            } else {
                #expect(error?.message.contains("holds a certificate of role \(role!); this server takes envoy, user or admin") == true)
            }
            let logged = try? federation.director.waitForErrorLine(timeout: 20) { $0.contains("refused \(name) (") }
            #expect(logged != nil, "\(federation.director.errorLines.suffix(8).joined(separator: "\n"))")
        }

        // Positive controls: the user lists, the admin lists, the sites train.
        #expect(try federation.client("alice").experiments().contains { $0.name == honest })
        #expect(try federation.client("carol").experiments().contains { $0.name == honest && $0.submittedBy == "alice" })
        #expect(try federation.finish(honest).status == "succeeded")
    }

    /// 4. An experiment belongs to its submitter: others see its name and state only.
    @Test func experimentsBelongToTheirSubmitter() throws {
        let federation = try LiveFederation()
        let honest = try federation.startHonest(rounds: 150)
        let bob = try federation.client("bob")
        for (what, attempt) in [("ExperimentStatusRequest", { _ = try bob.status(honest) }),
                                ("ExperimentModelRequest", { try bob.model(honest, .best, to: federation.fixture.directory.appending("stolen")) }),
                                ("CancelExperiment", { _ = try bob.cancel(honest) })] as [(String, () throws -> Void)] {
            let error = #expect(throws: ErrorReply.self) { try attempt() }
            #expect(error?.code == .notAllowed)
            #expect(error?.message.contains("experiment '\(honest)' belongs to 'alice'; only its submitter or an admin may") == true,
                    "\(error.map { "\($0)" } ?? "")")
            federation.refusalLogged(what, from: "bob", containing: "belongs to 'alice'")
        }
        let watch = try federation.fx(["experiment", "watch", honest], as: "bob")
        #expect(watch.status == .exited(1) && watch.error.contains("belongs to 'alice'"), "\(watch.error)")
        #expect(!FileManager.default.fileExists(atPath: federation.fixture.directory.appending("stolen")))
        // Listed by name and state only.
        let seen = try #require(try bob.experiments().first { $0.name == honest })
        #expect(seen.submittedBy.isEmpty && seen.archiveSHA256.isEmpty && seen.lastMetrics.isEmpty && seen.sites.isEmpty && seen.collaborators.isEmpty)
        #expect(seen.status == .running || seen.status == .succeeded)
        let listed = try federation.fx(["experiment", "list"], as: "bob")
        #expect(listed.output.contains(honest) && listed.output.contains("(another user)") && !listed.output.contains("alice"), "\(listed.output)")

        // The submitter and an admin see everything; the experiment was never disturbed.
        #expect(try federation.client("carol").status(honest).submittedBy == "alice")
        #expect(try federation.finish(honest).status == "succeeded")
        #expect(try federation.client("alice").status(honest).roundsCompleted == 150)
    }

    /// 5. A registered Envoy reporting on an experiment it was never offered, and asking for its archive.
    @Test func sitesReportOnlyOnWhatTheyWereOffered() throws {
        let federation = try LiveFederation()
        let honest = try federation.startHonest()
        // hospital_d registers after the honest experiment was offered: it was never offered it.
        try federation.fixture.addEnvoy("hospital_d", dataFrom: 0)
        let rogue = try federation.connect(TLSConfiguration(certificateDirectory: "\(federation.fixture.envoyDirectory("hospital_d"))/cert", name: "hospital_d"))
        defer { rogue.close() }
        let shard = ShardDescriptor(path: "x.csv", labelColumn: "label", sampleShape: [30], targetShape: [1], sampleCount: 100)
        #expect(try rogue.call(EnvoyRegistration(envoy: "hospital_d", shard: shard), timeout: 10) is EnvoyWelcome)
        for event in [SiteReport.Event.accepted, .collaboratorStarted, .collaboratorExited] {
            let error = #expect(throws: ErrorReply.self) {
                try rogue.call(SiteReport(experiment: honest, launch: 1, event: event, succeeded: true), timeout: 10)
            }
            #expect(error?.message.contains("no experiment '\(honest)' was offered to 'hospital_d'") == true, "\(error.map { "\($0)" } ?? "")")
        }
        federation.refusalLogged("SiteReport", from: "hospital_d", containing: "was offered")
        let archive = #expect(throws: ErrorReply.self) { try rogue.call(ArchiveRequest(experiment: honest), timeout: 10) }
        #expect(archive?.code == .notFound)
        federation.refusalLogged("ArchiveRequest", from: "hospital_d", containing: "was offered")

        // A second connection with a participant's certificate is not its registered connection.
        let hospitalA = TLSConfiguration(certificateDirectory: "\(federation.fixture.envoyDirectory("hospital_a"))/cert", name: "hospital_a")
        let second = try federation.connect(hospitalA)
        defer { second.close() }
        let forged = #expect(throws: ErrorReply.self) {
            try second.call(SiteReport(experiment: honest, launch: 1, event: .collaboratorExited, reason: "forged", succeeded: false), timeout: 10)
        }
        #expect(forged?.code == .unknownPeer)
        federation.refusalLogged("SiteReport", from: "hospital_a", containing: "register first")

        #expect(try federation.finish(honest).status == "succeeded")
        // The experiment ends with its aggregator; each Envoy's report that its collaborator ended may come just after.
        let alice = try federation.client("alice")
        var info = try alice.status(honest)
        let deadline = Deadline.after(seconds: 30)
        while !info.sites.allSatisfy({ $0.state == .finished }) && !deadline.hasPassed {
            info = try alice.status(honest, after: info.version, wait: 5)
        }
        #expect(info.sites.map(\.envoy).sorted() == ["hospital_a", "hospital_b", "hospital_c"])
        #expect(info.sites.allSatisfy { $0.state == .finished && $0.reason != "forged" }, "\(info.sites)")
    }

    /// 6. Sites run only SwiftFL's own training unless their administrator approved an archive, and
    /// take archives only up to their limit.
    @Test func sitesRunNoSubmittedCodeByDefault() throws {
        let federation = try LiveFederation(envoys: ["hospital_a", "hospital_b", "hospital_c", "hospital_d", "hospital_e"]) { fixture in
            // hospital_d takes archives of at most 4 KiB, hospital_e models of at most 10 parameters.
            for (site, limit) in [("hospital_d", "max_archive_bytes: 4096"), ("hospital_e", "max_model_parameters: 10")] {
                let config = fixture.envoyConfigurationPath(site)
                try (try String(contentsOfFile: config, encoding: .utf8) + "limits:\n  \(limit)\n").write(toFile: config, atomically: true, encoding: .utf8)
            }
        }
        let honest = try federation.startHonest()
        let marker = federation.fixture.directory.appending("ran-at-a-site")
        let external = try federation.externalWorkspace("external", touching: marker, initialize: "seeded")
        _ = try federation.client("mallory").submit(workspace: Workspace(root: external), name: "external")
        #expect(try federation.finish(honest).status == "succeeded")
        let (status, reason) = try federation.finish("external")
        #expect(status == "failed" && reason.contains("no Envoy accepted the experiment"), "\(reason)")
        #expect(reason.contains("this site's policy (builtin) runs only SwiftFL's built-in training"), "\(reason)")
        #expect(!FileManager.default.fileExists(atPath: marker), "the workspace's command ran at a site")
        for site in ["hospital_a", "hospital_b", "hospital_c"] {
            let audit = try AuditLog.read(federation.fixture.auditLogPath(site))
            #expect(audit.contains { $0.experiment == "external" && $0.decision == .refused && $0.reason.contains("'external'") })
        }
        // The site with a small limit never downloaded either archive.
        let small = try AuditLog.read(federation.fixture.auditLogPath("hospital_d"))
        #expect(small.contains { $0.experiment == honest && $0.decision == .refused && $0.reason.contains("this site takes at most 4096 (limits.max_archive_bytes)") })
        #expect(!FileManager.default.fileExists(atPath: "\(federation.fixture.envoyDirectory("hospital_d"))/work/\(honest)/archive.tar"))
        let tiny = try AuditLog.read(federation.fixture.auditLogPath("hospital_e"))
        #expect(tiny.contains { $0.experiment == honest && $0.decision == .refused
                    && $0.reason.contains("the plan's model has 122 parameters; this site trains at most 10 (limits.max_model_parameters)") }, "\(tiny)")
        #expect(try federation.client("alice").status(honest).collaborators == ["hospital_a", "hospital_b", "hospital_c"])
    }

    /// 6 (continued). An approval withdrawn is noticed at the next launch: after a Director restart
    /// the resumed experiment goes on without the site that withdrew it.
    @Test func anApprovalWithdrawnStopsTheNextLaunch() throws {
        let federation = try LiveFederation { fixture in
            let config = fixture.envoyConfigurationPath("hospital_c")
            try (try String(contentsOfFile: config, encoding: .utf8)).replacingOccurrences(of: "mode: builtin", with: "mode: allowlist")
                .write(toFile: config, atomically: true, encoding: .utf8)
        }
        let path = try federation.workspace("honest", rounds: 400) {
            $0.replacingOccurrences(of: "    rounds_to_train: 400\n", with: "    rounds_to_train: 400\n    round_timeout: 5\n    minimum_reporting: 2\n")
        }
        let archive = federation.fixture.directory.appending("honest.tar")
        try Workspace(root: path).export(to: archive)
        let digest = try SHA256.hexDigest(ofFile: archive)
        try ArchiveAllowList.approve(digest, in: federation.fixture.allowListPath("hospital_c"))
        _ = try federation.client("alice").submit(archive: archive, name: "honest")
        try DirectorFixture.waitForEvent("round_closed", ["experiment": "honest"], in: federation.director, timeout: 60)

        // The administrator of hospital_c withdraws the approval; the Director dies and comes back.
        try "# nothing approved\n".write(toFile: federation.fixture.allowListPath("hospital_c"), atomically: true, encoding: .utf8)
        federation.director.process.kill()
        _ = try federation.director.waitForExit(timeout: 10)
        let (restarted, _) = try federation.fixture.startDirector(port: federation.port)
        try DirectorFixture.waitForEvent("site_updated", ["experiment": "honest", "envoy": "hospital_c", "state": "refused"], in: restarted, timeout: 60)
        let audit = try AuditLog.read(federation.fixture.auditLogPath("hospital_c"))
        #expect(audit.first?.decision == .accepted && audit.contains { $0.decision == .started && $0.launch == 1 }, "\(audit.map(\.decision))")
        #expect(audit.contains { $0.decision == .refused && $0.launch == 2 && $0.reason.contains("not in this site's allow-list") }, "\(audit)")
        #expect(!audit.contains { $0.decision == .started && $0.launch == 2 }, "launched again without approval")
        // The others carry on.
        try DirectorFixture.waitForEvent("round_closed", ["experiment": "honest"], in: restarted, timeout: 60)
        _ = try federation.client("alice").cancel("honest")
    }

    /// 9 (the Director's part). State the Director cannot write is retried, and users are told.
    @Test func stateThatCannotBeSavedIsRetriedAndReported() throws {
        let federation = try LiveFederation(envoys: ["hospital_a", "hospital_b"])
        let state = federation.fixture.stateDirectory
        // Something in the way of experiments.json (a full disk looks the same to the Director).
        try? FileManager.default.removeItem(atPath: "\(state)/experiments.json")
        try FileManager.default.createDirectory(atPath: "\(state)/experiments.json/in-the-way", withIntermediateDirectories: true)
        let honest = try federation.startHonest(rounds: 3)
        try DirectorFixture.waitForEvent("state_unsaved", in: federation.director, timeout: 30)
        let status = try federation.fx(["experiment", "status", honest], as: "alice")
        #expect(status.error.contains("warning: the Director cannot save its state:") && status.error.contains("experiments.json"), "\(status.error)")
        #expect(try federation.finish(honest).status == "succeeded")
        // Cleared: the next retry writes everything, and the warning goes.
        try FileManager.default.removeItem(atPath: "\(state)/experiments.json")
        try DirectorFixture.waitForEvent("state_saved", in: federation.director, timeout: 60)
        #expect(try federation.fx(["experiment", "status", honest], as: "alice").error.isEmpty)
        // Stopping writes whatever is still pending: the last state is on disk.
        federation.director.process.terminate()
        #expect(try federation.director.waitForExit(timeout: 30).isSuccess)
        let saved = try DirectorStore(root: state, logger: Logger(label: "test", sink: MemoryLogSink())).loadExperiments()
        #expect(saved.first?.status == .succeeded)
    }
    /// 7. A site whose collaborator claims a billion samples, alternately with a zero model and with
    /// values that would overflow the running sum: its weight is what its Envoy registered, the
    /// overflowing updates are refused, and the honest sites' model stays good.
    @Test func aSitesWeightIsWhatItRegisteredAndNoUpdateMakesTheModelNonFinite() throws {
        let federation = try LiveFederation()
        try federation.fixture.addEnvoy("mallory_site", dataFrom: 0)
        let rogue = try RogueEnvoy(name: "mallory_site", certificateDirectory: "\(federation.fixture.envoyDirectory("mallory_site"))/cert",
                                   directorPort: federation.port, registeredRows: 40, claimedSamples: 1_000_000_000) { round, layout in
            [Float](repeating: round % 2 == 0 ? 1e37 : 0, count: layout.count)
        }
        defer { rogue.stop() }
        try DirectorFixture.waitForEvent("envoy_online", ["envoy": "mallory_site"], in: federation.director, timeout: 30)
        let honest = try federation.startHonest(rounds: 10)
        let (status, reason) = try federation.finish(honest)
        #expect(status == "succeeded", "\(reason)")
        #expect(rogue.waitUntilDone(timeout: 30))
        let answers = rogue.aggregatorAnswers
        #expect(answers.contains { $0.hasPrefix("round 0 train: ") && $0.contains("overflows the running sum") }, "\(answers)")
        #expect(answers.contains { $0.hasPrefix("round 1 train: ok") }, "\(answers)")
        // Its statistics, claiming a billion rows, were left out of the federation's standardizer.
        #expect(answers.first == "statistics: 1000000000 rows, more than the 40 its site registered", "\(answers)")

        let info = try federation.client("alice").status(honest)
        #expect(info.collaborators.contains("mallory_site"))
        // Zeros at the weight of 1e9 samples would have made the model all but zero: ~0.63 accuracy.
        let accuracy = try #require(info.lastMetrics["aggregated_model_validation/accuracy"])
        #expect(accuracy > 0.9, "\(info.lastMetrics)")
        // The aggregator says whose weight it capped and whose update it refused; the Director relays the refusals.
        let aggregatorLog = try String(contentsOfFile: "\(federation.fixture.stateDirectory)/experiments/\(honest)/aggregator-1.stderr", encoding: .utf8)
        #expect(aggregatorLog.contains("capped the weight of mallory_site") && aggregatorLog.contains("its site registered 40"), "\(aggregatorLog.suffix(2000))")
        #expect(aggregatorLog.contains("from mallory_site"), "\(aggregatorLog.suffix(2000))")
        #expect(federation.director.errorLines.contains { $0.contains("update from 'mallory_site' rejected") })
        let participants = try ParticipantList.read(from: "\(federation.fixture.stateDirectory)/experiments/\(honest)/participants.json")
        #expect(participants.sampleCaps["mallory_site"] == 40)
    }

    /// 9. The disk under the Director fills up mid-experiment: the experiment fails saying so, never
    /// "succeeded", and the Director keeps retrying its own state.
    @Test(.disabled(if: !Launcher.canMountSmallDisks, "this machine cannot mount a small file system for a child (unshare)"))
    func aFullDiskFailsTheExperimentLoudly() throws {
        let fixture = try DirectorFixture(envoys: ["hospital_a", "hospital_b"])
        // 4 MB models (the noop runner, 1M parameters) on a 6 MB state disk: the archive and the
        // initial model fit, the first checkpoint does not.
        let (director, port) = try fixture.startDirector(stateDiskBytes: 6 << 20)
        let envoys = try ["hospital_a", "hospital_b"].map { try fixture.startEnvoy($0, port: port) }
        _ = envoys
        for name in ["hospital_a", "hospital_b"] { try DirectorFixture.waitForEvent("envoy_online", ["envoy": name], in: director, timeout: 30) }
        let workspace = try fixture.makeWorkspace("full", rounds: 3)
        let plan = "\(workspace)/plan/plan.yaml"
        try (try String(contentsOfFile: plan, encoding: .utf8)).replacingOccurrences(of: "  template: builtin\n  settings:\n",
                                                                              with: "  template: noop\n  settings:\n    parameters: 1000000\n")
            .write(toFile: plan, atomically: true, encoding: .utf8)
        try fixture.fx(["experiment", "submit", "--workspace", workspace, "--name", "full"] + fixture.clientOptions(port: port))
        let line = try DirectorFixture.waitForEvent("experiment_finished", ["experiment": "full"], in: director, timeout: 120)
        let event = try #require(EventLine(line))
        #expect(event["status"]?.asString == "failed", "\(line)")
        // The reason is prose for people: the system's error and what could not be saved, in it.
        let reason = event["reason"]?.asString ?? ""
        #expect(reason.contains("No space left on device") && reason.contains("cannot save the checkpoint after round 1"), "\(line)")
        #expect(!director.outputLines.contains { EventLine($0)?["status"]?.asString == "succeeded" })
        let status = try fixture.fxStatus(["experiment", "status", "full"] + fixture.clientOptions(port: port))
        #expect(status.output.contains("status:      failed"), "\(status.output)")
    }

    /// 11. After experiments, no temporary file is left anywhere: not the aggregator's, not the Director's.
    @Test func noTemporaryFileIsLeftBehind() throws {
        let federation = try LiveFederation(envoys: ["hospital_a", "hospital_b"])
        let honest = try federation.startHonest(rounds: 5)
        #expect(try federation.finish(honest).status == "succeeded")
        let second = try federation.startHonest("second", rounds: 3)
        #expect(try federation.finish(second).status == "succeeded")
        federation.director.process.terminate()
        _ = try federation.director.waitForExit(timeout: 30)
        #expect(federation.strayTemporaryFiles().isEmpty, "\(federation.strayTemporaryFiles())")
        let save = "\(federation.fixture.stateDirectory)/experiments/\(honest)/workspace/save"
        let saved = try FileManager.default.contentsOfDirectory(atPath: save).sorted()
        #expect(saved == ["best.json", "best.safetensors", "checkpoint", "init.safetensors", "last.safetensors"], "\(saved)")
    }
    /// 8. Thousands of idle connections to the Director and to the running aggregator: they hold no
    /// thread each, the honest experiment completes, and the flood is logged as counts, not line by line.
    @Test func idleConnectionsCannotExhaustTheDirectorOrTheAggregator() throws {
        let federation = try LiveFederation()
        let before = try #require(ResourceUsage.threadCount(pid: federation.director.process.pid))
        let honest = try federation.startHonest(rounds: 300)
        let started = try DirectorFixture.waitForEvent("experiment_started", ["experiment": honest], in: federation.director, timeout: 30)
        let object = try JSONSerialization.jsonObject(with: Data(started.utf8)) as? [String: Any] ?? [:]
        let aggregatorPort = try #require(object["port"] as? Int)
        var sockets: [Int32] = []
        defer { for fd in sockets { close(fd) } }
        for port in [federation.port, aggregatorPort] {
            for _ in 0..<600 {
                guard let fd = try? Socket.connect(host: "127.0.0.1", port: port, deadline: .after(seconds: 5)) else { break }
                sockets.append(fd)
            }
        }
        #expect(sockets.count >= 1000, "only \(sockets.count) connections could be opened")
        // While they are open, the Director still answers and its thread count barely moves.
        #expect(try federation.client("alice").status(honest).status == .running)
        let during = try #require(ResourceUsage.threadCount(pid: federation.director.process.pid))
        #expect(during < before + 40, "the Director went from \(before) to \(during) threads")
        #expect(try federation.finish(honest).status == "succeeded")
        let floodLines = federation.director.errorLines.filter { $0.contains("connection") && ($0.contains("refused") || $0.contains("closed")) }
        #expect(floodLines.count < 20, "\(floodLines.count) log lines about the flood")
    }

    /// 10. A lost laptop and a compromised site: once the CA revokes their certificates, the
    /// Director refuses the one and drops the other, and the rest of the federation goes on.
    @Test func revokedCertificatesAreRefusedEverywhere() throws {
        let federation = try LiveFederation(checksRevocation: true)
        let honest = try federation.startHonest(rounds: 300) {
            $0.replacingOccurrences(of: "    rounds_to_train: 300\n", with: "    rounds_to_train: 300\n    round_timeout: 5\n    minimum_reporting: 2\n")
        }
        #expect(try federation.client("bob").experiments().contains { $0.name == honest })

        let revoked = try federation.fixture.fx(["pki", "revoke", "bob", "--ca-dir", federation.fixture.authority.directory])
        #expect(revoked.contains("bob"), "\(revoked)")
        let refused = try federation.fx(["experiment", "list"], as: "bob")
        #expect(refused.status == .exited(1))
        #expect(refused.error.contains("revoked"), "\(refused.error)")
        try federation.director.waitForErrorLine(timeout: 20) { $0.contains("refused connection from") && $0.contains("revoked") }

        // A site: its Envoy's connection is closed, and it cannot come back.
        try federation.fixture.fx(["pki", "revoke", "hospital_c", "--ca-dir", federation.fixture.authority.directory])
        try federation.director.waitForErrorLine(timeout: 20) { $0.contains("hospital_c") && $0.contains("revoked") }
        try DirectorFixture.waitForEvent("envoy_offline", ["envoy": "hospital_c"], in: federation.director, timeout: 30)
        let envoy = try #require(federation.envoys["hospital_c"])
        #expect(try !envoy.waitForExit(timeout: 30).isSuccess)
        #expect(envoy.errorTail().contains("revoked"), "\(envoy.errorTail())")

        // The others carry the experiment to its end; alice is unaffected.
        #expect(try federation.finish(honest).status == "succeeded")
        let info = try federation.client("alice").status(honest)
        #expect(info.rounds.last?.reported == ["hospital_a", "hospital_b"], "\(info.rounds.last.map { "\($0)" } ?? "")")
    }
}
