import Foundation
import FLCore
import FLWire
import FLPKI

/// A long-lived federation laid out on one machine for tests and benchmarks: a Director folder
/// (configuration, certificates for the Director and the aggregators it starts, state), one folder
/// per Envoy (configuration, certificate, its third of the breast-cancer data from
/// `workspaces/federation`, work folder, audit log) and one per user (certificate), all signed by
/// one CA. It writes the same files a person would write by hand, and starts the real executables
/// (`fx director start`, `fx envoy start`); everything started is killed when it goes away.
///
/// ```
/// <tmp>/director/director.yaml, cert/, state/
/// <tmp>/<envoy>/envoy.yaml, cert/, data/<envoy>.csv, work/, audit.jsonl, approved.sha256
/// <tmp>/users/<user>/cert/         (users and admins)
/// ```
public final class DirectorFixture: @unchecked Sendable {
    public let directory: TemporaryDirectory
    public let authority: CertificateAuthority
    /// The repository (or installation) holding `workspaces/`.
    public let repository: String
    public let heartbeatPeriod: Double
    /// Whether the configurations name the CA's revocation list.
    public let checksRevocation: Bool
    private var started: [ProcessUnderTest] = []
    private let lock = NSLock()

    /// Lays out a Director with `envoys` (the three hospitals' data are reused in turn) and `users`.
    /// With `checksRevocation`, the Director's and every Envoy's configuration name the CA's
    /// revocation list (`crl_file`), so `revoke` takes effect everywhere at once.
    public init(envoys: [String] = ["hospital_a", "hospital_b", "hospital_c"], users: [String] = ["alice"], admins: [String] = [],
                heartbeatPeriod: Double = 0.2, startupGrace: Double = 20, decisionTimeout: Double = 20, checksRevocation: Bool = false) throws {
        directory = try TemporaryDirectory(prefix: "swiftfl-director")
        repository = try DirectorFixture.findRepository()
        self.heartbeatPeriod = heartbeatPeriod
        authority = try CertificateAuthority.create(directory: directory.appending("ca"))
        self.checksRevocation = checksRevocation
        let cert = "\(directorDirectory)/cert"
        _ = try authority.certify(name: "director", hosts: ["127.0.0.1", "localhost"], role: .director, directory: cert)
        _ = try authority.certify(name: "aggregator", hosts: ["127.0.0.1", "localhost"], role: .aggregator, directory: cert)
        try writeDirectorConfiguration("""
            # Written by DirectorFixture.
            listen:
              host: 127.0.0.1
              port: 0
            federation:
              sample_shape: [30]
              target_shape: [1]
            envoys:
              heartbeat_period: \(heartbeatPeriod)
              startup_grace: \(startupGrace)
              decision_timeout: \(decisionTimeout)
            state_dir: state
            certificates:
              dir: cert
              name: director\(checksRevocation ? "\n  crl_file: \(authority.revocationListPath)" : "")
            aggregators:
              host: 127.0.0.1
              address: 127.0.0.1

            """)
        for (i, name) in envoys.enumerated() { try addEnvoy(name, dataFrom: i % 3) }
        for user in users { _ = try authority.certify(name: user, role: .user, directory: userCertificateDirectory(user)) }
        for admin in admins { _ = try authority.certify(name: admin, role: .admin, directory: userCertificateDirectory(admin)) }
    }

    deinit {
        for process in started { process.process.kill() }
    }

    public var directorDirectory: String { directory.appending("director") }
    public var directorConfigurationPath: String { "\(directorDirectory)/director.yaml" }
    public var stateDirectory: String { "\(directorDirectory)/state" }
    public func envoyDirectory(_ name: String) -> String { directory.appending(name) }
    public func envoyConfigurationPath(_ name: String) -> String { "\(envoyDirectory(name))/envoy.yaml" }
    public func auditLogPath(_ name: String) -> String { "\(envoyDirectory(name))/audit.jsonl" }
    public func allowListPath(_ name: String) -> String { "\(envoyDirectory(name))/approved.sha256" }
    public func userCertificateDirectory(_ user: String) -> String { directory.appending("users/\(user)/cert") }

    /// Replaces the Director's configuration file.
    public func writeDirectorConfiguration(_ text: String) throws {
        try FileManager.default.createDirectory(atPath: directorDirectory, withIntermediateDirectories: true)
        try text.write(toFile: directorConfigurationPath, atomically: true, encoding: .utf8)
    }

    /// Sets what the Director's configuration says about running experiments at once:
    /// `experiments.max_concurrent`, `aggregators.ports` (`first-last`) and `envoys.minimum`.
    public func configureConcurrency(maximumConcurrent: Int, aggregatorPorts: String? = nil, minimumEnvoys: Int = 1) throws {
        var text = try String(contentsOfFile: directorConfigurationPath, encoding: .utf8)
        text = text.replacingOccurrences(of: "\nenvoys:\n", with: "\nenvoys:\n  minimum: \(minimumEnvoys)\n")
        if let aggregatorPorts {
            text = text.replacingOccurrences(of: "\naggregators:\n", with: "\naggregators:\n  ports: \(aggregatorPorts)\n")
        }
        try writeDirectorConfiguration(text + "experiments:\n  max_concurrent: \(maximumConcurrent)\n")
    }

    /// Sets how many collaborators Envoy `name` runs at once (`capacity` in its configuration).
    public func setCapacity(_ capacity: Int, of name: String) throws {
        let text = try String(contentsOfFile: envoyConfigurationPath(name), encoding: .utf8)
        try (text + "capacity: \(capacity)\n").write(toFile: envoyConfigurationPath(name), atomically: true, encoding: .utf8)
    }

    /// Adds an Envoy with a certificate and the data of hospital `dataFrom` (0, 1 or 2);
    /// `extraFeatures` appends that many constant columns (a shard of another shape), and
    /// `policy` is `builtin`, `allowlist` or `any`.
    public func addEnvoy(_ name: String, dataFrom index: Int = 0, extraFeatures: Int = 0, policy: String = "builtin") throws {
        let root = envoyDirectory(name)
        try FileManager.default.createDirectory(atPath: "\(root)/data", withIntermediateDirectories: true)
        _ = try authority.certify(name: name, role: .envoy, directory: "\(root)/cert")
        let hospital = ["hospital_a", "hospital_b", "hospital_c"][index % 3]
        var text = try String(contentsOfFile: "\(repository)/workspaces/federation/\(hospital)/data/breast_cancer_part.csv", encoding: .utf8)
        if extraFeatures > 0 {
            text = text.split(separator: "\n").enumerated().map { i, line in
                (0..<extraFeatures).map { i == 0 ? "extra_\($0)," : "1.0," }.joined() + line
            }.joined(separator: "\n") + "\n"
        }
        try text.write(toFile: "\(root)/data/\(name).csv", atomically: true, encoding: .utf8)
        try """
            # Written by DirectorFixture.
            director:
              name: director
            cert_dir: cert\(checksRevocation ? "\ncrl_file: \(authority.revocationListPath)" : "")
            work_dir: work
            data_dir: data
            shard:
              format: csv
              path: \(name).csv
              label_column: label
              sample_shape: [\(30 + extraFeatures)]
              target_shape: [1]
              description: \(hospital) breast cancer part
            policy:
              mode: \(policy)
              allowlist: approved.sha256
            audit_log: audit.jsonl

            """.write(toFile: envoyConfigurationPath(name), atomically: true, encoding: .utf8)
    }

    /// Makes a breast-cancer workspace `name` (with `fx workspace create`) training `rounds` rounds.
    @discardableResult
    public func makeWorkspace(_ name: String, rounds: Int = 3, template: String = "breast_cancer") throws -> String {
        let path = directory.appending("workspaces/\(name)")
        try fx(["workspace", "create", "--prefix", path, "--template", template])
        let plan = "\(path)/plan/plan.yaml"
        let text = try String(contentsOfFile: plan, encoding: .utf8)
        guard text.contains("rounds_to_train: 10") else { throw ProcessUnderTestError("\(plan) has no 'rounds_to_train: 10'") }
        try text.replacingOccurrences(of: "rounds_to_train: 10", with: "rounds_to_train: \(rounds)").write(toFile: plan, atomically: true, encoding: .utf8)
        return path
    }

    /// Makes a workspace `name` as `makeWorkspace` does, whose sites train nothing
    /// (`task_runner.template: noop`, one tensor of `parameters` floats) and whose every task holds
    /// `secondsPerTask` of wall time without using CPU: sites computing on machines of their own.
    @discardableResult
    public func makeNoopWorkspace(_ name: String, rounds: Int = 3, parameters: Int, secondsPerTask: Double = 0) throws -> String {
        let path = try makeWorkspace(name, rounds: rounds)
        let plan = "\(path)/plan/plan.yaml"
        let text = try String(contentsOfFile: plan, encoding: .utf8)
        guard let start = text.range(of: "\ntask_runner:\n"), let end = text.range(of: "\nnetwork:\n", range: start.upperBound..<text.endIndex) else {
            throw ProcessUnderTestError("\(plan) has no task_runner section followed by network")
        }
        let runner = """

            task_runner:
              defaults: defaults/task_runner.yaml
              template: noop
              settings:
                parameters: \(parameters)
                seconds_per_task: \(secondsPerTask)

            """
        try text.replacingCharacters(in: start.lowerBound..<end.lowerBound, with: runner).write(toFile: plan, atomically: true, encoding: .utf8)
        return path
    }

    /// Starts `fx director start --events` and waits for it to listen; returns it and its port.
    /// `stateDiskBytes` gives the Director (and the aggregators it starts) a state folder on a file
    /// system of only that size (see `Launcher.smallDisk`).
    /// `environment` is added to this process's environment for the Director (say, `NOTIFY_SOCKET`).
    public func startDirector(port: Int? = nil, timeout: Double = 30, stateDiskBytes: Int? = nil,
                              environment: [String: String] = [:]) throws -> (process: ProcessUnderTest, port: Int) {
        var arguments = ["director", "start", "--config", directorConfigurationPath, "--events"]
        if let port { arguments += ["--port", "\(port)"] }
        if stateDiskBytes != nil { try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true) }
        let process = try start("fx", arguments, name: "director", launcher: stateDiskBytes.map { Launcher.smallDisk(stateDirectory, bytes: $0) } ?? [],
                                environment: environment)
        let line = try process.waitForLine(timeout: timeout) { $0.contains("\"event\":\"listening\"") }
        guard let range = line.range(of: "\"port\":"), let port = Int(line[range.upperBound...].prefix { $0.isNumber }) else {
            throw ProcessUnderTestError("the Director announced no port: \(line)")
        }
        return (process, port)
    }

    /// Starts `fx envoy start` for `name` against the Director on `port`, with `environment` added.
    public func startEnvoy(_ name: String, port: Int, environment: [String: String] = [:]) throws -> ProcessUnderTest {
        try start("fx", ["envoy", "start", "--name", name, "--config", envoyConfigurationPath(name), "--director", "127.0.0.1:\(port)"], name: name,
                  environment: environment)
    }

    /// The options a user's `fx envoy|experiment` command needs to reach the Director on `port`.
    public func clientOptions(port: Int, user: String = "alice") -> [String] {
        ["--director", "127.0.0.1:\(port)", "--cert-dir", userCertificateDirectory(user), "--identity", user]
    }

    /// Runs `fx` and returns its standard output; throws with its error output on failure.
    @discardableResult
    public func fx(_ arguments: [String], timeout: Double = 60) throws -> String {
        try FederationFixture.run("fx", arguments, in: directory, timeout: timeout)
    }

    /// Runs `fx` and returns its exit status, standard output and the tail of its error output.
    public func fxStatus(_ arguments: [String], timeout: Double = 60) throws -> (status: ChildProcess.Status, output: String, error: String) {
        let process = try ProcessUnderTest("fx", arguments, errorLog: directory.appending("fx-\(UUID().uuidString.prefix(8)).stderr"))
        let status = try process.waitForExit(timeout: timeout)
        process.waitForOutputEnd(timeout: 10)
        return (status, process.outputLines.joined(separator: "\n"), process.errorTail())
    }

    /// Starts any executable of the package, killed when the fixture goes away.
    /// `environment` is added to this process's own.
    public func start(_ executable: String, _ arguments: [String], name: String, launcher: [String] = [],
                      environment: [String: String] = [:]) throws -> ProcessUnderTest {
        let process = try ProcessUnderTest(executable, arguments, name: name, errorLog: directory.appending("\(name)-\(UUID().uuidString.prefix(6)).stderr"),
                                           environment: environment.isEmpty ? nil : ProcessInfo.processInfo.environment.merging(environment) { $1 },
                                           launcher: launcher)
        lock.lock()
        started.append(process)
        lock.unlock()
        return process
    }

    /// The Director's JSON event lines of kind `event`, parsed.
    public static func events(_ kind: String, in process: ProcessUnderTest) -> [[String: Any]] {
        FederationFixture.events(kind, in: process)
    }

    /// Waits for the Director's event of kind `event` whose fields include `fields` (string values).
    @discardableResult
    public static func waitForEvent(_ kind: String, _ fields: [String: String] = [:], in process: ProcessUnderTest, timeout: Double = 60) throws -> String {
        try process.waitForLine(timeout: timeout) { EventLine($0)?.matches(kind, fields) == true }
    }

    /// The folder above the test bundle (or executable) that holds `workspaces/federation`.
    public static func findRepository() throws -> String {
        if let home = ProcessInfo.processInfo.environment["SWIFTFL_HOME"], FileManager.default.fileExists(atPath: "\(home)/workspaces/federation") {
            return home
        }
        var dir = ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? FileManager.default.currentDirectoryPath)
        while !dir.isEmpty && dir != "/" {
            dir = (dir as NSString).deletingLastPathComponent
            if FileManager.default.fileExists(atPath: "\(dir)/workspaces/federation") { return dir }
        }
        throw ProcessUnderTestError("cannot find workspaces/federation above the test executable; set SWIFTFL_HOME")
    }
}
