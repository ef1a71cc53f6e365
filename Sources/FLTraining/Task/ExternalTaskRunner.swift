#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FLCore

/// Runs each task with the site's own command (a PyTorch or numpy script, any program), through
/// files: for every task it makes a fresh folder, writes the model as safetensors and a JSON
/// request there, runs the command with `SWIFTFL_TASK_REQUEST` naming the request, and reads back
/// the updated model (train) and a JSON result with metrics and a sample count.
///
/// Nothing the command does can hang or corrupt the collaborator: a command that runs past the
/// timeout has its whole process group stopped (SIGTERM, then SIGKILL), processes it leaves behind
/// are killed when it exits, and everything it returns is checked (the model's names, shapes,
/// dtype and finiteness against the plan's, a positive sample count, finite metrics). Every failure
/// is an `ExternalTaskError` quoting the end of the command's standard error; the task's folder is
/// kept for inspection. The protocol is documented in docs/external-runner.md.
///
/// `run` blocks its thread until the command ends: call it from a dedicated thread (as the
/// collaborator does), never from the Swift concurrency pool.
public final class ExternalTaskRunner: TaskRunner {
    public let settings: ExternalRunnerSettings
    /// The command's program, resolved to an absolute path.
    public let executable: String
    private let environment: [String: String]

    /// The environment variable naming the request file.
    public static let requestVariable = "SWIFTFL_TASK_REQUEST"
    /// Variables that repeat the request's main fields for commands that cannot read JSON (a shell
    /// script): the task's folder, the function, the input model, and where the outputs go. The
    /// request stays the protocol; these are a convenience and always agree with it.
    public static let taskDirectoryVariable = "SWIFTFL_TASK_DIR"
    public static let functionVariable = "SWIFTFL_TASK_FUNCTION"
    public static let modelInputVariable = "SWIFTFL_MODEL_INPUT"
    public static let modelOutputVariable = "SWIFTFL_MODEL_OUTPUT"
    public static let resultVariable = "SWIFTFL_RESULT"

    public var layout: ModelLayout { settings.layout }

    /// This site's training rows' statistics, read by SwiftFL, when the federation standardizes with them.
    public func featureStatistics() throws -> FeatureStatistics? { settings.featureStatistics }

    /// - Throws: `TaskRunnerError` when the command is empty or its program cannot be found, the
    ///   working folder does not exist, or the timeout is not positive.
    public init(settings: ExternalRunnerSettings) throws {
        func fail(_ reason: String) -> TaskRunnerError { TaskRunnerError(task: "*", reason: reason) }
        guard let program = settings.command.first, !program.isEmpty else { throw fail("the external runner's command is empty") }
        guard settings.timeout > 0, settings.timeout.isFinite else { throw fail("timeout must be a positive number of seconds, got \(settings.timeout)") }
        guard settings.terminationGrace >= 0 else { throw fail("termination grace must not be negative, got \(settings.terminationGrace)") }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: settings.workingDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw fail("the command's working folder \(settings.workingDirectory) does not exist")
        }
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in settings.environment { environment[key] = value }
        guard let executable = Self.resolve(program, workingDirectory: settings.workingDirectory, path: environment["PATH"]) else {
            throw fail(program.contains("/")
                ? "the command's program \(program) is not an executable file (relative to \(settings.workingDirectory))"
                : "the command's program '\(program)' is not on PATH (\(environment["PATH"] ?? "unset"))")
        }
        self.settings = settings
        self.executable = executable
        self.environment = environment
    }

    /// Runs `task` with the command (`function` `train` or `validate`).
    /// - Throws: `ExternalTaskError`.
    public func run(_ task: TaskInvocation, model: ModelState) throws -> TaskOutcome {
        let function: ExternalFunction = task.function == .train ? .train : .validate
        if let difference = layout.difference(from: model.layout) {
            throw ExternalTaskError(task: task.name, function: function.rawValue, round: task.round, collaborator: settings.collaborator,
                                    kind: .wrongInput("the model handed to the runner is not the plan's: \(difference)"), command: settings.command)
        }
        if function == .train, let statePath = settings.scaffoldStatePath { return try trainWithControlVariates(task, model: model, statePath: statePath) }
        let (result, updated) = try execute(function, task: task.name, round: task.round, kwargs: task.kwargs, model: model)
        return TaskOutcome(model: function == .train ? updated : nil, metrics: result.metrics, sampleCount: result.sampleCount)
    }

    /// SCAFFOLD at a site whose own command trains (`ScaffoldControl`): SwiftFL keeps `cᵢ`; the
    /// command gets the correction `c − cᵢ` in the input model's `scaffold.*` tensors, adds it to
    /// every gradient, and reports the `steps` it took and their `step_size`.
    private func trainWithControlVariates(_ task: TaskInvocation, model: ModelState, statePath: String) throws -> TaskOutcome {
        func failure(_ reason: String) -> ExternalTaskError {
            ExternalTaskError(task: task.name, function: ExternalFunction.train.rawValue, round: task.round, collaborator: settings.collaborator,
                              kind: .invalidOutput(path: "result.json", reason: reason), command: settings.command)
        }
        let declared = try ModelLayout(layout.tensors.filter { !Standardizer.isPreprocessTensor($0.name) && !ScaffoldControl.isControlTensor($0.name) })
        let n = declared.count, controlStart = model.values.count - n
        let server = model.values[controlStart...]
        let site: [Float]
        do { site = try ScaffoldControl.loadSiteControl(statePath, network: declared, round: task.round) } catch { throw failure("\(error)") }
        var handed = model
        handed.values.replaceSubrange(controlStart..., with: zip(server, site).map { $0 - $1 })
        let (result, output) = try execute(.train, task: task.name, round: task.round, kwargs: task.kwargs, model: handed)
        guard let steps = result.steps, let stepSize = result.stepSize else {
            throw failure("under SCAFFOLD the result must give steps (the optimizer steps taken) and step_size (their learning rate)")
        }
        guard var trained = output else { throw failure("no model") }
        let (next, returned) = ScaffoldControl.update(site: site, server: server, start: Array(model.values[0..<n]), trained: Array(trained.values[0..<n]),
                                                     steps: steps, learningRate: stepSize)
        do { try ScaffoldControl.saveSiteControl(used: site, next: next, round: task.round, network: declared, to: statePath) } catch {
            throw failure("cannot keep this site's SCAFFOLD control variate: \(error)")
        }
        trained.values.replaceSubrange(controlStart..., with: returned)
        return TaskOutcome(model: trained, metrics: result.metrics, sampleCount: result.sampleCount)
    }

    /// Asks the command for the experiment's starting model (function `initialize`: no model in,
    /// no data, round 0) and checks it against the layout.
    /// - Throws: `ExternalTaskError`.
    public func initialize() throws -> ModelState {
        let (_, model) = try execute(.initialize, task: "initialize", round: 0, kwargs: [:], model: nil)
        return model!
    }

    // MARK: One task

    private func execute(_ function: ExternalFunction, task: String, round: Int, kwargs: [String: TaskArgument],
                         model: ModelState?) throws -> (ExternalTaskResult, ModelState?) {
        func failure(_ kind: ExternalTaskError.Kind, tail: String = "", folder: String? = nil) -> ExternalTaskError {
            ExternalTaskError(task: task, function: function.rawValue, round: round, collaborator: settings.collaborator, kind: kind,
                              command: settings.command, stderrTail: tail, taskDirectory: folder)
        }
        let folder: String
        do { folder = try makeTaskDirectory(task: task, round: round) } catch { throw failure(.cannotPrepare("\(error)")) }
        var succeeded = false
        defer { if succeeded && !settings.keepTaskDirectories { try? FileManager.default.removeItem(atPath: folder) } }

        let inputPath = model == nil ? nil : "\(folder)/model.safetensors"
        let outputPath = function == .validate ? nil : "\(folder)/output.safetensors"
        let resultPath = "\(folder)/result.json", requestPath = "\(folder)/request.json"
        let stdoutPath = "\(folder)/stdout.txt", stderrPath = "\(folder)/stderr.txt"
        do {
            if let model, let inputPath { try Safetensors.writeScratch(model, to: inputPath) }
            let request = ExternalTaskRequest(function: function, task: task, round: round, kwargs: kwargs, settings: settings, modelInput: inputPath,
                                              modelOutput: outputPath, resultPath: resultPath, taskDirectory: folder)
            try Data(request.json().utf8).write(to: URL(fileURLWithPath: requestPath))
        } catch {
            throw failure(.cannotPrepare("\(error)"), folder: folder)
        }

        var environment = self.environment
        environment[Self.requestVariable] = requestPath
        environment[Self.taskDirectoryVariable] = folder
        environment[Self.functionVariable] = function.rawValue
        environment[Self.modelInputVariable] = inputPath
        environment[Self.modelOutputVariable] = outputPath
        environment[Self.resultVariable] = resultPath
        let child: ChildProcess
        do {
            child = try ChildProcess(executable: executable, arguments: Array(settings.command.dropFirst()), environment: environment,
                                     workingDirectory: settings.workingDirectory, standardOutput: .file(stdoutPath), standardError: .file(stderrPath))
        } catch let error as ChildProcessError {
            throw failure(.cannotStart(error.reason), folder: folder)
        }
        let status = child.wait(timeout: settings.timeout)
        if status == nil { child.stop(grace: settings.terminationGrace) }
        // Whatever the command started and left running dies with it: nothing outlives its task.
        // A group id cannot be taken by anyone else while a member lives; with none left, this finds no one.
        _ = Glibc.kill(-child.pid, SIGKILL)
        let tail = { Self.tail(of: stderrPath, bytes: self.settings.stderrTailBytes) }
        guard let status else { throw failure(.timedOut(seconds: settings.timeout), tail: tail(), folder: folder) }
        guard status.isSuccess else { throw failure(.failed(status), tail: tail(), folder: folder) }

        let result: ExternalTaskResult
        do {
            result = try ExternalTaskResult.read(resultPath, requireSamples: function != .initialize)
        } catch .missing {
            guard function == .initialize else { throw failure(.missingOutput(path: resultPath), tail: tail(), folder: folder) }
            result = ExternalTaskResult(metrics: [:], sampleCount: 0)
        } catch .invalid(let reason) {
            throw failure(.invalidOutput(path: resultPath, reason: reason), tail: tail(), folder: folder)
        }

        var updated: ModelState?
        if let outputPath {
            guard FileManager.default.fileExists(atPath: outputPath) else { throw failure(.missingOutput(path: outputPath), tail: tail(), folder: folder) }
            var read: ModelState
            do {
                read = try readOutput(outputPath, input: model)
            } catch let error as SafetensorsError {
                throw failure(.invalidOutput(path: outputPath, reason: error.reason), tail: tail(), folder: folder)
            }
            if let problem = Self.nonFinite(read) { throw failure(.invalidOutput(path: outputPath, reason: problem), tail: tail(), folder: folder) }
            updated = read
        }
        succeeded = true
        return (result, updated)
    }

    /// The command's model: every tensor of the layout. The preprocess and SCAFFOLD tensors are the
    /// federation's, not the command's: those a file leaves out come from the input model (or, for
    /// `initialize`, the standardizer that changes nothing until the sites' statistics are in, and a
    /// zero control variate).
    private func readOutput(_ path: String, input: ModelState?) throws -> ModelState {
        func federations(_ name: String) -> Bool { Standardizer.isPreprocessTensor(name) || ScaffoldControl.isControlTensor(name) }
        guard layout.tensors.contains(where: { federations($0.name) }) else { return try Safetensors.read(path, matching: layout).model }
        let header = try SafetensorsHeader.read(path)
        let present = try ModelLayout(layout.tensors.filter { !federations($0.name) || header.entry(named: $0.name) != nil })
        let read = try Safetensors.read(path, matching: present).model
        var values: [Float] = []
        values.reserveCapacity(layout.count)
        for (i, spec) in layout.tensors.enumerated() {
            if let j = present.index(of: spec.name) {
                values += read.values[present.range(at: j)]
            } else if let input {
                values += input.values[layout.range(at: i)]
            } else {
                values += [Float](repeating: spec.name == Standardizer.scaleTensorName ? 1 : 0, count: layout.range(at: i).count)
            }
        }
        return ModelState(layout: layout, values: values)
    }

    /// A fresh folder (mode 0700) named after the site, round and task, in the scratch directory.
    private func makeTaskDirectory(task: String, round: Int) throws -> String {
        let base = settings.scratchDirectory ?? FileManager.default.temporaryDirectory.path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        let safe = { (s: String) in String(s.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_" ? Character($0) : "_" }.prefix(40)) }
        let site = settings.collaborator.map(safe) ?? "plan"
        var template = Array("\(base)/swiftfl-\(site)-r\(round)-\(safe(task))-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) != nil }) else {
            throw FileError(path: "\(base)/swiftfl-\(site)-…", operation: "create a task folder", errno: errno)
        }
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Describes the first NaN or infinity of `model`, if any.
    static func nonFinite(_ model: ModelState) -> String? {
        model.firstNonFinite.map { "tensor '\($0.tensor)' has \($0.value) at element \($0.element); models must be finite" }
    }

    /// The last `bytes` bytes of the file at `path` as text, starting at a line boundary.
    static func tail(of path: String, bytes: Int) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        let start = size > UInt64(bytes) ? size - UInt64(bytes) : 0
        try? handle.seek(toOffset: start)
        let data = (try? handle.readToEnd()) ?? Data()
        var text = String(decoding: data, as: UTF8.self)
        if start > 0, let newline = text.firstIndex(of: "\n") { text = "…" + text[text.index(after: newline)...] }
        return text
    }

    /// `program` as an absolute path: with a `/`, relative to `workingDirectory`; without, the
    /// first executable match on `path`.
    public static func resolve(_ program: String, workingDirectory: String, path: String?) -> String? {
        if program.contains("/") {
            let full = program.hasPrefix("/") ? program : "\(workingDirectory)/\(program)"
            return access(full, X_OK) == 0 ? full : nil
        }
        for dir in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") where !dir.isEmpty {
            let candidate = dir.hasPrefix("/") ? "\(dir)/\(program)" : "\(workingDirectory)/\(dir)/\(program)"
            var isDirectory: ObjCBool = false
            if access(candidate, X_OK) == 0, FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue {
                return candidate
            }
        }
        return nil
    }
}

extension ExternalTaskRunner {
    /// A starting model for `layout` when the command has no `initialize`: tensors of two or more
    /// dimensions Glorot-uniform (fan-out the first dimension, fan-in the product of the others, as
    /// PyTorch lays out `Linear` weights), others zero; the same seed always gives the same values.
    public static func seededModel(_ layout: ModelLayout, seed: UInt64) -> ModelState {
        var model = ModelState(zeros: layout)
        var rng = SeededGenerator(seed: seed)
        model.values.withUnsafeMutableBufferPointer { values in
            for (i, spec) in layout.tensors.enumerated() where spec.shape.count >= 2 {
                let fanOut = spec.shape[0], fanIn = spec.count / max(fanOut, 1)
                guard fanIn + fanOut > 0 else { continue }
                let limit = (6.0 / Double(fanIn + fanOut)).squareRoot()
                for j in layout.range(at: i) { values[j] = Float((2 * rng.uniform() - 1) * limit) }
            }
        }
        return model
    }
}
