import Foundation
import FLCore
import FLWire
import FLPKI

/// A federation on loopback for multi-process tests: a workspace made from a template with `fx`,
/// a CA with certificates for the aggregator and each collaborator in the workspace's `cert/`, and
/// helpers that start the real `fx-aggregator` and `fx-collaborator` executables on a free port.
/// Everything started is killed, and the folder removed, when the fixture goes away.
public final class FederationFixture: @unchecked Sendable {
    public let directory: TemporaryDirectory
    /// The workspace folder.
    public let workspace: String
    public let authority: CertificateAuthority
    private var started: [ProcessUnderTest] = []
    private let lock = NSLock()

    /// Creates the workspace from `template` and certificates for `aggregator` and `collaborators`.
    public init(template: String, collaborators: [String], aggregator: String = "aggregator") throws {
        directory = try TemporaryDirectory(prefix: "swiftfl-federation")
        workspace = directory.appending("ws")
        _ = try FederationFixture.run("fx", ["workspace", "create", "--prefix", workspace, "--template", template], in: directory)
        authority = try CertificateAuthority.create(directory: "\(workspace)/cert/ca")
        _ = try authority.certify(name: aggregator, hosts: ["127.0.0.1", "localhost"], role: .aggregator, directory: "\(workspace)/cert")
        for name in collaborators {
            _ = try authority.certify(name: name, role: .envoy, directory: "\(workspace)/cert")
        }
    }

    deinit {
        for process in started { process.process.kill() }
    }

    /// Replaces `old` with `new` in a workspace file (e.g. `plan/plan.yaml`); fails if `old` is absent.
    public func edit(_ file: String, replacing old: String, with new: String) throws {
        let path = "\(workspace)/\(file)"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard text.contains(old) else { throw ProcessUnderTestError("\(file) does not contain '\(old)'") }
        try text.replacingOccurrences(of: old, with: new).write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Replaces a workspace file (e.g. `plan/plan.yaml`) with `text`.
    public func write(_ file: String, _ text: String) throws {
        try text.write(toFile: "\(workspace)/\(file)", atomically: true, encoding: .utf8)
    }

    /// Runs `fx` with `arguments` and returns its standard output; throws with its error output on failure.
    @discardableResult
    public func fx(_ arguments: [String], timeout: Double = 60) throws -> String {
        try FederationFixture.run("fx", arguments, in: directory, timeout: timeout)
    }

    /// `fx plan initialize` on the workspace.
    public func initialize() throws { try fx(["plan", "initialize", "--workspace", workspace]) }

    /// Starts the aggregator on a free port and waits for it to listen; returns it and the port.
    /// `launcher` runs it through another command (see `ProcessUnderTest`).
    public func startAggregator(_ extra: [String] = [], timeout: Double = 30, launcher: [String] = []) throws -> (process: ProcessUnderTest, port: Int) {
        let process = try start("fx-aggregator", ["--workspace", workspace, "--port", "0", "--events"] + extra, name: "aggregator",
                                launcher: launcher)
        let line = try process.waitForLine(timeout: timeout) { $0.contains("\"event\":\"listening\"") }
        guard let range = line.range(of: "\"port\":"), let port = Int(line[range.upperBound...].prefix { $0.isNumber }) else {
            throw ProcessUnderTestError("aggregator announced no port: \(line)")
        }
        return (process, port)
    }

    /// Starts collaborator `name` against the aggregator at `port`.
    /// `workspace` runs this one collaborator from another workspace (say, one whose plan makes it hostile).
    public func startCollaborator(_ name: String, port: Int, _ extra: [String] = [], workspace: String? = nil) throws -> ProcessUnderTest {
        try start("fx-collaborator", ["--workspace", workspace ?? self.workspace, "--name", name, "--aggregator", "127.0.0.1:\(port)"] + extra, name: name)
    }

    /// Starts any executable of the package, kept until the fixture goes away.
    public func start(_ executable: String, _ arguments: [String], name: String, launcher: [String] = []) throws -> ProcessUnderTest {
        let process = try ProcessUnderTest(executable, arguments, name: name, errorLog: directory.appending("\(name).stderr"), launcher: launcher)
        lock.lock()
        started.append(process)
        lock.unlock()
        return process
    }

    /// The aggregator's JSON event lines of kind `event` (e.g. `round_closed`), parsed.
    public static func events(_ kind: String, in process: ProcessUnderTest) -> [[String: Any]] {
        process.outputLines.compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  object["event"] as? String == kind else { return nil }
            return object
        }
    }

    static func run(_ executable: String, _ arguments: [String], in directory: TemporaryDirectory, timeout: Double = 60) throws -> String {
        let log = directory.appending("\(executable)-\(UUID().uuidString.prefix(8)).stderr")
        let process = try ProcessUnderTest(executable, arguments, errorLog: log)
        let status = try process.waitForExit(timeout: timeout)
        guard status.isSuccess else {
            throw ProcessUnderTestError("\(executable) \(arguments.joined(separator: " ")) \(status):\n\(process.errorTail())")
        }
        return process.outputLines.joined(separator: "\n")
    }

    /// A copy of the workspace (as it is now) whose sites run `Tests/Interop/hostile_runner.py` instead
    /// of training: each round it sends `global + scale·(previous global − global)`, the federation's
    /// last step sign-flipped and scaled, claiming an ordinary sample count. `tensors` is the model's
    /// declaration for the external runner (`{name: shape, …}`); the plan must use the builtin runner.
    /// Start a collaborator with `startCollaborator(_:port:workspace:)` and this path to make it hostile.
    public func hostileCopy(tensors: String, scale: Double) throws -> String {
        let copy = directory.appending("hostile-workspace")
        try FileManager.default.copyItem(atPath: workspace, toPath: copy)
        let plan = "\(copy)/plan/plan.yaml"
        var text = try String(contentsOfFile: plan, encoding: .utf8)
        guard text.contains("  template: builtin\n  settings:\n") else {
            throw ProcessUnderTestError("\(plan) has no '  template: builtin' runner block to replace")
        }
        text = text.replacingOccurrences(of: "  template: builtin\n  settings:\n", with: """
              template: external
              settings:
                command: [\(try PythonInterop.python3()), \(PythonInterop.interopDirectory)/hostile_runner.py]
                tensors: \(tensors)
                custom: {hostile_scale: \(scale)}

            """)
        try text.write(toFile: plan, atomically: true, encoding: .utf8)
        return copy
    }
}
