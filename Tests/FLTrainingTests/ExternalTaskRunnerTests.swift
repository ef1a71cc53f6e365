#if canImport(Glibc)
import Glibc
#endif
import FLCore
import FLTesting
import FLTraining
import Foundation
import Testing

/// The external runner against small shell scripts: the request it writes, what it accepts back,
/// and every way a command can fail (exit status, timeout, missing or garbled outputs, wrong
/// shapes, NaN), each reported with the command's standard error and never as a hang.
@Suite struct ExternalTaskRunnerTests {
    static let layout = try! ModelLayout([TensorSpec(name: "dense_0.weight", shape: [3, 4]), TensorSpec(name: "dense_0.bias", shape: [3])])
    static let model = ModelState(layout: layout, values: (0..<15).map { Float($0) * 0.25 - 1 })
    static let okResult = #"{"metrics": {"loss": 0.5, "accuracy": 0.75}, "sample_count": 42}"#

    /// A workspace folder, a folder the scripts report into, and a scratch folder for task folders.
    final class Fixture {
        let directory: TemporaryDirectory
        let workspace: String
        let capture: String
        let scratch: String

        init() throws {
            directory = try TemporaryDirectory(prefix: "external-runner")
            workspace = directory.appending("ws")
            capture = directory.appending("capture")
            scratch = directory.appending("scratch")
            for dir in [workspace, capture, scratch] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        }

        /// A `/bin/sh` script in the workspace; `$CAPTURE` is the capture folder.
        func script(_ body: String, name: String = "task.sh") throws -> String {
            let path = "\(workspace)/\(name)"
            try "#!/bin/sh\nset -e\n\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
            return path
        }

        func settings(_ command: [String], timeout: Double = 20, grace: Double = 5, keep: Bool = false) -> ExternalRunnerSettings {
            ExternalRunnerSettings(command: command, layout: ExternalTaskRunnerTests.layout, workingDirectory: workspace, timeout: timeout,
                                   terminationGrace: grace, environment: ["CAPTURE": capture], scratchDirectory: scratch, keepTaskDirectories: keep,
                                   collaborator: "site_1", collaboratorIndex: 1, seed: 7,
                                   data: ExternalDataSettings(path: "\(workspace)/data.csv", split: "iid", shardIndex: 1, shardCount: 2, splitSeed: 3),
                                   runnerSettings: ["learning_rate": 0.1, "command": ["task.sh"]])
        }

        func runner(_ body: String, timeout: Double = 20, grace: Double = 5, keep: Bool = false) throws -> ExternalTaskRunner {
            try ExternalTaskRunner(settings: settings([try script(body)], timeout: timeout, grace: grace, keep: keep))
        }

        /// Writes `model` as a safetensors file in the capture folder for a script to hand back.
        func fixtureModel(_ name: String, _ model: ModelState) throws -> String {
            let path = "\(capture)/\(name)"
            try Safetensors.write(model, to: path)
            return path
        }

        var taskFolders: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? []).sorted() }
    }

    static let train = TaskInvocation(name: "train", function: .train, round: 2, kwargs: ["epochs": .int(3), "mode": .list([.string("a"), .bool(true)])])
    static let validate = TaskInvocation(name: "aggregated_model_validation", function: .validate, round: 2, kwargs: ["apply": .string("global")])

    /// Runs the task and returns the error it must fail with.
    func failure(_ runner: ExternalTaskRunner, _ task: TaskInvocation = train, model: ModelState = model,
                 sourceLocation: SourceLocation = #_sourceLocation) throws -> ExternalTaskError {
        do {
            let outcome = try runner.run(task, model: model)
            Issue.record("expected the task to fail, got \(outcome)", sourceLocation: sourceLocation)
            throw NoFailure()
        } catch let error as ExternalTaskError {
            return error
        }
    }

    // MARK: Success

    @Test func trainTaskSendsTheRequestAndReturnsTheCommandsModelAndResult() throws {
        let f = try Fixture()
        let runner = try f.runner("""
            cp "$SWIFTFL_TASK_REQUEST" "$CAPTURE/request.json"
            pwd > "$CAPTURE/cwd"
            env | grep '^SWIFTFL_' | sort > "$CAPTURE/env"
            cp "$SWIFTFL_MODEL_INPUT" "$SWIFTFL_MODEL_OUTPUT"
            echo '\(Self.okResult)' > "$SWIFTFL_RESULT"
            """)
        let outcome = try runner.run(Self.train, model: Self.model)
        #expect(outcome.model == Self.model)
        #expect(outcome.metrics == ["loss": 0.5, "accuracy": 0.75])
        #expect(outcome.sampleCount == 42)
        #expect(try String(contentsOfFile: "\(f.capture)/cwd", encoding: .utf8) == f.workspace + "\n")
        #expect(f.taskFolders.isEmpty, "a successful task's folder is removed: \(f.taskFolders)")

        let request = try PlanNode.parseJSON(Data(contentsOf: URL(fileURLWithPath: "\(f.capture)/request.json")), file: "request.json")
        #expect(try request.string("protocol") == "swiftfl-external-task")
        #expect(try request.int("version") == 1)
        #expect(try request.string("function") == "train")
        #expect(try request.string("task") == "train")
        #expect(try request.int("round") == 2)
        #expect(try request.string("collaborator") == "site_1")
        #expect(try request.int("collaborator_index") == 1)
        #expect(try request.int("seed") == Int(runner.settings.taskSeed(round: 2)))
        #expect(try request.int("kwargs.epochs") == 3)
        #expect(request.node(at: "kwargs.mode") == ["a", true])
        #expect(try request.double("settings.learning_rate") == 0.1)
        #expect(try request.string("data.path") == "\(f.workspace)/data.csv")
        #expect(try request.string("data.split") == "iid")
        #expect(try request.int("data.shard_index") == 1)
        #expect(try request.int("data.shard_count") == 2)
        #expect(try request.int("data.split_seed") == 3)
        #expect(try request.string("data.label_column") == "label")
        #expect(try request.double("data.validation_fraction") == 0.2)
        #expect(try request.string("model.tensors.0.name") == "dense_0.weight")
        #expect(request.node(at: "model.tensors.0.shape") == [3, 4])
        #expect(try request.string("model.tensors.1.dtype") == "F32")
        let folder = try request.string("task_dir")
        #expect(folder.hasPrefix("\(f.scratch)/swiftfl-site_1-r2-train-"))
        #expect(try request.string("model.path") == "\(folder)/model.safetensors")
        #expect(try request.string("outputs.model") == "\(folder)/output.safetensors")
        #expect(try request.string("outputs.result") == "\(folder)/result.json")
        #expect(try request.string("workspace") == f.workspace)

        let env = try String(contentsOfFile: "\(f.capture)/env", encoding: .utf8)
        #expect(env.contains("SWIFTFL_TASK_REQUEST=\(folder)/request.json\n"))
        #expect(env.contains("SWIFTFL_TASK_FUNCTION=train\n"))
        #expect(env.contains("SWIFTFL_MODEL_OUTPUT=\(folder)/output.safetensors\n"))
    }

    @Test func validateTaskReturnsMetricsAndNoModel() throws {
        let f = try Fixture()
        let runner = try f.runner("""
            cp "$SWIFTFL_TASK_REQUEST" "$CAPTURE/request.json"
            echo "${SWIFTFL_MODEL_OUTPUT:-unset}" > "$CAPTURE/output"
            echo '{"metrics": {"accuracy": 1}, "sample_count": 9}' > "$SWIFTFL_RESULT"
            """)
        let outcome = try runner.run(Self.validate, model: Self.model)
        #expect(outcome.model == nil)
        #expect(outcome.metrics == ["accuracy": 1])
        #expect(outcome.sampleCount == 9)
        let request = try PlanNode.parseJSON(Data(contentsOf: URL(fileURLWithPath: "\(f.capture)/request.json")), file: "request.json")
        #expect(try request.string("function") == "validate")
        #expect(try request.string("kwargs.apply") == "global")
        #expect(request.node(at: "outputs.model")?.isNull == true)
        #expect(try String(contentsOfFile: "\(f.capture)/output", encoding: .utf8) == "unset\n")
    }

    @Test func tensorsInAnotherOrderAreMatchedByName() throws {
        let f = try Fixture()
        // Python's safetensors writes tensors sorted by name: bias before weight.
        let sortedLayout = try ModelLayout(Self.layout.tensors.sorted { $0.name < $1.name })
        var reordered = ModelState(zeros: sortedLayout)
        for spec in Self.layout.tensors { reordered.setTensor(spec.name, Self.model.tensor(spec.name)!.map { $0 + 1 }) }
        let file = try f.fixtureModel("sorted.safetensors", reordered)
        let runner = try f.runner("cp '\(file)' \"$SWIFTFL_MODEL_OUTPUT\"; echo '\(Self.okResult)' > \"$SWIFTFL_RESULT\"")
        let updated = try #require(try runner.run(Self.train, model: Self.model).model)
        #expect(updated.layout == Self.layout)
        #expect(updated.values == Self.model.values.map { $0 + 1 })
    }

    /// SCAFFOLD through the external runner: the command is handed c − cᵢ in the scaffold.* tensors
    /// (cᵢ = 0 at first, so c itself), may leave them out of its output, and must report its steps;
    /// SwiftFL keeps cᵢ⁺ and returns c + (cᵢ⁺ − cᵢ).
    @Test func scaffoldHandsTheCorrectionAndNeedsTheSteps() throws {
        let f = try Fixture()
        let full = try ScaffoldControl.layout(Self.layout, controlling: Self.layout)
        let start = ModelState(layout: full, values: Self.model.values + [Float](repeating: 0.5, count: 15))
        // The command moves every weight by −1: x − y = 1 each; 4 steps of 0.25: (x − y)/(K·η) = 1.
        let trained = try f.fixtureModel("trained.safetensors", ModelState(layout: Self.layout, values: Self.model.values.map { $0 - 1 }))
        var settings = f.settings([try f.script("""
            cp "$SWIFTFL_MODEL_INPUT" "$CAPTURE/handed.safetensors"
            cp '\(trained)' "$SWIFTFL_MODEL_OUTPUT"
            cp "$SWIFTFL_TASK_REQUEST" "$CAPTURE/request.json"
            echo "{\\"metrics\\": {}, \\"sample_count\\": 3 $EXTRA}" > "$SWIFTFL_RESULT"
            """)])
        settings.layout = full
        settings.scaffoldStatePath = f.directory.appending("state/scaffold-site_1.safetensors")
        let missing = try failure(try ExternalTaskRunner(settings: settings), model: start)
        #expect("\(missing)".contains("under SCAFFOLD the result must give steps"), "\(missing)")
        settings.environment["EXTRA"] = ", \"steps\": 4, \"step_size\": 0.25"
        let updated = try #require(try ExternalTaskRunner(settings: settings).run(Self.train, model: start).model)
        let handed = try Safetensors.read("\(f.capture)/handed.safetensors").model
        #expect(handed.tensor("scaffold.dense_0.bias") == [Float](repeating: 0.5, count: 3))  // c − 0
        let request = try PlanNode.parseJSON(Array(try Data(contentsOf: URL(fileURLWithPath: "\(f.capture)/request.json"))))
        #expect(request.node(at: "scaffold") == PlanNode(.bool(true)))
        // cᵢ⁺ = 0 − 0.5 + 1 = 0.5; returned c + (cᵢ⁺ − cᵢ) = 1.
        #expect(Array(updated.values[15...]) == [Float](repeating: 1, count: 15))
        #expect(Array(updated.values[..<15]) == Self.model.values.map { $0 - 1 })
        #expect(try Safetensors.read(settings.scaffoldStatePath!).model.values == [Float](repeating: 0.5, count: 15))
    }

    @Test func initializeAsksForAModelWithoutInputOrData() throws {
        let f = try Fixture()
        let start = ModelState(layout: Self.layout, values: (0..<15).map { Float($0) })
        let file = try f.fixtureModel("init.safetensors", start)
        let runner = try f.runner("""
            cp "$SWIFTFL_TASK_REQUEST" "$CAPTURE/request.json"
            test "$SWIFTFL_TASK_FUNCTION" = initialize
            cp '\(file)' "$SWIFTFL_MODEL_OUTPUT"
            """)
        #expect(try runner.initialize() == start)
        let request = try PlanNode.parseJSON(Data(contentsOf: URL(fileURLWithPath: "\(f.capture)/request.json")), file: "request.json")
        #expect(try request.string("function") == "initialize")
        #expect(request.node(at: "model.path")?.isNull == true)
        #expect(try request.string("model.tensors.1.name") == "dense_0.bias")
    }

    @Test func keptTaskFoldersHoldTheExchange() throws {
        let f = try Fixture()
        let runner = try f.runner("echo hello; cp \"$SWIFTFL_MODEL_INPUT\" \"$SWIFTFL_MODEL_OUTPUT\"; echo '\(Self.okResult)' > \"$SWIFTFL_RESULT\"", keep: true)
        _ = try runner.run(Self.train, model: Self.model)
        let folder = try #require(f.taskFolders.first)
        let files = try FileManager.default.contentsOfDirectory(atPath: "\(f.scratch)/\(folder)").sorted()
        #expect(files == ["model.safetensors", "output.safetensors", "request.json", "result.json", "stderr.txt", "stdout.txt"])
        #expect(try String(contentsOfFile: "\(f.scratch)/\(folder)/stdout.txt", encoding: .utf8) == "hello\n")
    }

    // MARK: Failures

    @Test func nonZeroExitIsAFailedTaskWithTheStandardErrorTail() throws {
        let f = try Fixture()
        let runner = try f.runner("echo 'loading data' >&2\necho 'ValueError: shapes (10,64) and (32,) not aligned' >&2\nexit 3")
        let error = try failure(runner)
        #expect(error.kind == .failed(.exited(3)))
        #expect(error.stderrTail.contains("ValueError: shapes (10,64) and (32,) not aligned"))
        #expect(error.description.contains("exited with status 3"))
        #expect(error.description.contains("    ValueError: shapes"))
        let folder = try #require(error.taskDirectory)
        #expect(FileManager.default.fileExists(atPath: "\(folder)/request.json"), "a failed task's folder is kept")
        #expect(error.description.contains(folder))
    }

    @Test func onlyTheEndOfALongStandardErrorIsQuoted() throws {
        let f = try Fixture()
        var settings = f.settings([try f.script("i=0; while [ $i -lt 500 ]; do echo \"line $i\" >&2; i=$((i+1)); done; exit 1")])
        settings.stderrTailBytes = 200
        let error = try failure(try ExternalTaskRunner(settings: settings))
        #expect(error.stderrTail.hasPrefix("…line 4"))
        #expect(error.stderrTail.hasSuffix("line 499\n"))
        #expect(error.stderrTail.utf8.count <= 200 + 3)
    }

    @Test func aCommandKilledByASignalIsAFailedTask() throws {
        let f = try Fixture()
        let error = try failure(try f.runner("kill -KILL $$"))
        #expect(error.kind == .failed(.signalled(SIGKILL)))
    }

    @Test func aCommandPastItsTimeoutIsStoppedWithEverythingItStarted() throws {
        let f = try Fixture()
        let runner = try f.runner("""
            sleep 60 &
            echo $! > "$CAPTURE/background.pid"
            echo 'still working' >&2
            sleep 60
            """, timeout: 1.5)  // time enough, even on a loaded machine, to get past the first lines
        let error = try failure(runner)
        #expect(error.kind == .timedOut(seconds: 1.5))
        #expect(error.stderrTail.contains("still working"))
        #expect(error.description.contains("timeout (task_runner.settings.timeout)"))
        let pid = try #require(pid_t(try String(contentsOfFile: "\(f.capture)/background.pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(waitUntilGone(pid), "the command's background process \(pid) outlived the task")
    }

    @Test func aCommandIgnoringSIGTERMIsKilledAfterTheGrace() throws {
        let f = try Fixture()
        let runner = try f.runner("echo $$ > \"$CAPTURE/command.pid\"\ntrap '' TERM\nwhile true; do sleep 0.05; done", timeout: 0.3, grace: 0.3)
        let error = try failure(runner)
        #expect(error.kind == .timedOut(seconds: 0.3))
        // SIGTERM alone would have left it running: it is gone, killed after the grace (ChildProcessTests
        // checks the order of the signals).
        let pid = try #require(pid_t(try String(contentsOfFile: "\(f.capture)/command.pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(waitUntilGone(pid), "the command \(pid) ignoring SIGTERM outlived the task")
    }

    @Test func processesLeftBehindBySuccessfulCommandsAreKilled() throws {
        let f = try Fixture()
        let runner = try f.runner("""
            sleep 60 &
            echo $! > "$CAPTURE/background.pid"
            cp "$SWIFTFL_MODEL_INPUT" "$SWIFTFL_MODEL_OUTPUT"
            echo '\(Self.okResult)' > "$SWIFTFL_RESULT"
            """)
        _ = try runner.run(Self.train, model: Self.model)
        let pid = try #require(pid_t(try String(contentsOfFile: "\(f.capture)/background.pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(waitUntilGone(pid))
    }

    @Test func missingOutputsAreNamed() throws {
        let f = try Fixture()
        let noResult = try failure(try f.runner("cp \"$SWIFTFL_MODEL_INPUT\" \"$SWIFTFL_MODEL_OUTPUT\""))
        guard case let .missingOutput(path) = noResult.kind else { Issue.record("\(noResult.kind)"); return }
        #expect(path.hasSuffix("/result.json"))
        #expect(noResult.description.contains("exited with status 0 but wrote no"))

        let noModel = try failure(try f.runner("echo '\(Self.okResult)' > \"$SWIFTFL_RESULT\""))
        guard case let .missingOutput(modelPath) = noModel.kind else { Issue.record("\(noModel.kind)"); return }
        #expect(modelPath.hasSuffix("/output.safetensors"))
    }

    @Test(arguments: [
        ("{\"metrics\": {\"loss\": 0.5}, \"sample_count\": 42", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ("{\"metrics\": {\"loss\": 0.5}}", "sample_count is missing"),
        ("{\"metrics\": {}, \"sample_count\": 0}", "sample_count must be a positive integer, found 0"),
        ("{\"metrics\": {}, \"sample_count\": \"many\"}", "sample_count: expected a positive integer"),
        ("{\"metrics\": {\"loss\": NaN}, \"sample_count\": 3}", "metrics.loss is nan"),
        ("{\"metrics\": {\"loss\": \"low\"}, \"sample_count\": 3}", "metrics.loss: expected a number"),
        ("{\"metrics\": [0.5], \"sample_count\": 3}", "metrics: expected an object of numbers"),
        // SCAFFOLD's step count and size divide the control variate's estimate: nothing but positive values.
        ("{\"metrics\": {}, \"sample_count\": 3, \"steps\": 0}", "steps: expected a positive integer"),
        ("{\"metrics\": {}, \"sample_count\": 3, \"steps\": 2.5}", "steps: expected a positive integer"),
        ("{\"metrics\": {}, \"sample_count\": 3, \"step_size\": 0}", "step_size: expected a positive number"),
        ("{\"metrics\": {}, \"sample_count\": 3, \"step_size\": -0.1}", "step_size: expected a positive number"),
    ])
    func garbledResultsAreRefusedWithTheReason(result: String, reason: String) throws {
        let f = try Fixture()
        let file = "\(f.capture)/result.json"
        try result.write(toFile: file, atomically: true, encoding: .utf8)
        let error = try failure(try f.runner("cp \"$SWIFTFL_MODEL_INPUT\" \"$SWIFTFL_MODEL_OUTPUT\"; cp '\(file)' \"$SWIFTFL_RESULT\""))
        guard case let .invalidOutput(path, found) = error.kind else { Issue.record("\(error.kind)"); return }
        #expect(path.hasSuffix("/result.json"))
        #expect(found.contains(reason), "\(found)")
    }

    @Test func modelsThatDoNotFitThePlanAreRefusedNamingTheTensor() throws {
        let f = try Fixture()
        let wrongShape = ModelState(zeros: try ModelLayout([TensorSpec(name: "dense_0.weight", shape: [4, 3]), TensorSpec(name: "dense_0.bias", shape: [3])]))
        let missing = ModelState(zeros: try ModelLayout([TensorSpec(name: "dense_0.weight", shape: [3, 4])]))
        let extra = ModelState(zeros: try ModelLayout(Self.layout.tensors + [TensorSpec(name: "dense_1.weight", shape: [2])]))
        var nan = Self.model
        nan.values[13] = .nan
        let garbage = "\(f.capture)/garbage.safetensors"
        try Data("this is not a model".utf8).write(to: URL(fileURLWithPath: garbage))
        let cases: [(String, String)] = [
            (try f.fixtureModel("shape.safetensors", wrongShape), "tensor 'dense_0.weight' has shape [4, 3], expected [3, 4]"),
            (try f.fixtureModel("missing.safetensors", missing), "tensor 'dense_0.bias' is missing"),
            (try f.fixtureModel("extra.safetensors", extra), "unexpected tensor 'dense_1.weight'"),
            (try f.fixtureModel("nan.safetensors", nan), "tensor 'dense_0.bias' has nan at element 1"),
            (garbage, "header length"),
        ]
        for (file, reason) in cases {
            let error = try failure(try f.runner("cp '\(file)' \"$SWIFTFL_MODEL_OUTPUT\"; echo '\(Self.okResult)' > \"$SWIFTFL_RESULT\""))
            guard case let .invalidOutput(path, found) = error.kind else { Issue.record("\(error.kind)"); continue }
            #expect(path.hasSuffix("/output.safetensors"))
            #expect(found.contains(reason), "\(found)")
            #expect(error.description.contains("output.safetensors"))
        }
    }

    @Test func float64ModelsAreRefusedWithAHintToWriteFloat32() throws {
        let f = try Fixture()
        let file = "\(f.capture)/f64.safetensors"
        try Data(SafetensorsFixture.bytes([("dense_0.weight", "F64", [3, 4], [UInt8](repeating: 0, count: 96)),
                                        ("dense_0.bias", "F32", [3], [UInt8](repeating: 0, count: 12))])).write(to: URL(fileURLWithPath: file))
        let error = try failure(try f.runner("cp '\(file)' \"$SWIFTFL_MODEL_OUTPUT\"; echo '\(Self.okResult)' > \"$SWIFTFL_RESULT\""))
        guard case let .invalidOutput(_, found) = error.kind else { Issue.record("\(error.kind)"); return }
        #expect(found.contains("tensor 'dense_0.weight' has dtype F64, expected F32"))
    }

    @Test func aModelOfAnotherLayoutIsNotHandedToTheCommand() throws {
        let f = try Fixture()
        let runner = try f.runner("touch \"$CAPTURE/ran\"")
        let error = try failure(runner, model: ModelState(zeros: try ModelLayout([TensorSpec(name: "x", shape: [2])])))
        guard case .wrongInput = error.kind else { Issue.record("\(error.kind)"); return }
        #expect(!FileManager.default.fileExists(atPath: "\(f.capture)/ran"))
    }

    @Test func commandsThatCannotRunAreRefusedWhenTheRunnerIsMade() throws {
        let f = try Fixture()
        #expect(throws: TaskRunnerError.self) { try ExternalTaskRunner(settings: f.settings(["no-such-program-swiftfl"])) }
        do {
            _ = try ExternalTaskRunner(settings: f.settings(["no-such-program-swiftfl"]))
        } catch let error as TaskRunnerError {
            #expect(error.reason.contains("'no-such-program-swiftfl' is not on PATH"))
        }
        let notExecutable = "\(f.workspace)/plain.txt"
        try "echo".write(toFile: notExecutable, atomically: true, encoding: .utf8)
        #expect(throws: TaskRunnerError.self) { try ExternalTaskRunner(settings: f.settings(["./plain.txt"])) }
        #expect(throws: TaskRunnerError.self) { try ExternalTaskRunner(settings: f.settings([])) }
        #expect(throws: TaskRunnerError.self) { try ExternalTaskRunner(settings: f.settings(["/bin/sh"], timeout: 0)) }
        // A relative program is found from the workspace.
        _ = try f.script("exit 0", name: "ok.sh")
        #expect(try ExternalTaskRunner(settings: f.settings(["./ok.sh"])).executable == "\(f.workspace)/./ok.sh")
    }

    @Test func seededInitialModelsAreDeterministicWithZeroBiases() {
        let a = ExternalTaskRunner.seededModel(Self.layout, seed: 3), b = ExternalTaskRunner.seededModel(Self.layout, seed: 3)
        let c = ExternalTaskRunner.seededModel(Self.layout, seed: 4)
        #expect(a == b)
        #expect(a != c)
        #expect(a.tensor("dense_0.bias") == [0, 0, 0])
        let limit = Float((6.0 / 7.0).squareRoot())
        let weights = a.tensor("dense_0.weight")!
        #expect(weights.allSatisfy { abs($0) <= limit } && Set(weights).count == 12)
        // The same draws as the built-in softmax regression's initial model.
        let builtin = NetworkArchitecture.softmaxRegression(inputs: 4, classes: 3).initialModel(seed: 3)
        #expect(builtin.values == a.values)
    }

    struct NoFailure: Error {}

    /// True once no process `pid` exists (it may take a moment for init to reap an orphan).
    func waitUntilGone(_ pid: pid_t, within seconds: Double = 5) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if kill(pid, 0) != 0 && errno == ESRCH { return true }
            if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), stat.contains(") Z ") { return true }
            usleep(10_000)
        }
        return false
    }
}
