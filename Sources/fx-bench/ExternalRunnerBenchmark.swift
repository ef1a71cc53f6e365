#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FLCore
import FLTesting
import FLTraining

/// What the external runner costs per task for a 1M-parameter model, beyond the work itself: a
/// fresh folder, the model written as safetensors, the JSON request, the command spawned and
/// waited for, its model read back by name and checked. Measured with the smallest command that
/// does the protocol (a shell script copying the model and writing a result), against the built-in
/// in-process runner with no learning (NoopTaskRunner) on the same model. For information, the same
/// task with python3 + numpy reading and writing the model with the template's numpy reader: what
/// a real Python task pays before it trains.
enum ExternalRunnerBenchmark {
    static let parameterCount = 1_000_000
    static let repetitions = 21

    static func run(_ report: BenchmarkReport) throws {
        let directory = try TemporaryDirectory(prefix: "fx-bench-external")
        let layout = try ModelLayout([TensorSpec(name: "dense_0.weight", shape: [1000, 999]), TensorSpec(name: "dense_0.bias", shape: [1000])])
        precondition(layout.count == parameterCount)
        var model = ModelState(zeros: layout)
        var rng = SeededGenerator(seed: 1)
        model.values.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] = Float(rng.normal()) } }
        let task = TaskInvocation(name: "train", function: .train, round: 0, kwargs: ["epochs": .int(1)])

        let script = directory.appending("copy.sh")
        try """
            #!/bin/sh
            cp "$SWIFTFL_MODEL_INPUT" "$SWIFTFL_MODEL_OUTPUT"
            echo '{"metrics": {"loss": 0}, "sample_count": 1}' > "$SWIFTFL_RESULT"
            """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let settings = ExternalRunnerSettings(command: [script], layout: layout, workingDirectory: directory.path, timeout: 60,
                                              scratchDirectory: directory.appending("tasks"), collaborator: "bench")
        let external = try ExternalTaskRunner(settings: settings)
        guard try external.run(task, model: model).model == model else { throw BenchError("the copying command returned another model") }
        let externalMs = try median(repetitions) { _ = try external.run(task, model: model) }

        let builtin = try NoopTaskRunner(parameterCount: parameterCount)
        let flat = ModelState(layout: builtin.layout, values: model.values)
        let builtinMs = try median(repetitions) { _ = try builtin.run(task, model: flat) }

        let overhead = externalMs - builtinMs
        report.add(BenchmarkFigure(name: "external_runner_task_overhead_1M_params", value: overhead, unit: "ms", reference: builtinMs, ratio: nil,
                                   target: "< 100 ms beyond the built-in runner", met: overhead < 100,
                                   note: "median of \(repetitions) train tasks with a /bin/sh command copying the model (\(String(format: "%.1f", externalMs)) ms per task) "
                                       + "minus the in-process NoopTaskRunner on the same model (reference); 4 MB written, copied, read back and checked"))

        // The Python figure is information only: it needs python3 with numpy, which a bench machine may lack.
        do {
            try PythonInterop.requireNumpy()
            let python = directory.appending("copy.py")
            try """
                import json, os, sys
                sys.path.insert(0, \(JSONText.string("\(PythonInterop.repositoryRoot)/workspaces/digits_numpy/src")))
                import numpy as np
                from safetensors_numpy import load, save
                request = json.load(open(os.environ["SWIFTFL_TASK_REQUEST"]))
                tensors, _ = load(request["model"]["path"])
                save(request["outputs"]["model"], tensors)
                json.dump({"metrics": {"loss": 0.0}, "sample_count": 1}, open(request["outputs"]["result"], "w"))
                """.write(toFile: python, atomically: true, encoding: .utf8)
            var pythonSettings = settings
            pythonSettings.command = [try PythonInterop.python3(), python]
            let runner = try ExternalTaskRunner(settings: pythonSettings)
            let pythonMs = try median(7) { _ = try runner.run(task, model: model) }
            let startup = try median(7) { _ = try PythonInterop.check(["-c", "import numpy"]) }
            report.add(BenchmarkFigure(name: "external_runner_python_numpy_task_1M_params", value: pythonMs, unit: "ms", reference: startup, ratio: nil,
                                       target: "information", met: nil,
                                       note: "median of 7 train tasks running python3 with numpy that reads and writes the model with the template's reader; "
                                           + "reference: python3 -c 'import numpy' alone"))
        } catch let error as PythonInterop.Failure {
            FileHandle.standardError.write(Data("fx-bench: external python figure skipped: \(error)\n".utf8))
        }
    }

    /// The median wall time of `count` runs of `body`, in milliseconds.
    static func median(_ count: Int, _ body: () throws -> Void) throws -> Double {
        var times: [Double] = []
        for _ in 0..<count {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        return times.sorted()[count / 2]
    }
}
