import Foundation
import FLCore
import FLTraining
import FLWire

// The experiment's starting model, and what may run where it is made.
extension ExperimentPlan {
    /// The starting model of the experiment: deterministic for the plan's seed; for an external
    /// runner, zeros, seeded, the safetensors file the plan ships (`initialize: file`), or what the
    /// site command's `initialize` function writes (`initialize: command`, checked against the
    /// declared tensors). The command runs only when `runningCommands` is true: on the data
    /// scientist's own machine (`fx plan initialize`), never at a Director.
    /// - Throws: `WorkspaceError` quoting the external command's failure or the file's problem.
    public func initialModel(runningCommands: Bool) throws -> ModelState {
        // The runner's own tensors lead whatever it returns (an external command's output is read into
        // the whole layout); the federation's tensors are appended here, once.
        let whole = try runnerInitialModel(runningCommands: runningCommands)
        let model = ModelState(layout: runner.layout, values: Array(whole.values[0..<runner.layout.count]))
        // Until the sites' statistics are in, the standardizer leaves features as they are.
        let carried = federatedFeatures.map { Standardizer.identity(features: $0).appendingPreprocessTensors(to: model) } ?? model
        return usesScaffold ? try ScaffoldControl.appendingZeros(to: carried, controlling: runner.layout) : carried
    }

    /// Whether the plan aggregates with SCAFFOLD: the model carries the server's control variate.
    public var usesScaffold: Bool { aggregator.aggregation.function == AggregationSettings.Function.scaffold.rawValue }

    /// Where site `name` keeps its SCAFFOLD control variate: in `stateDirectory` (the Envoy gives one
    /// that outlives the experiment's unpacked workspace), or the workspace's `save/` folder.
    public func scaffoldStatePath(for name: String, stateDirectory: String?) -> String {
        "\(stateDirectory ?? "\(workspace.root)/save")/scaffold-\(name).safetensors"
    }

    /// The runner's own starting model (without preprocessing).
    private func runnerInitialModel(runningCommands: Bool) throws -> ModelState {
        switch runner {
        case let .builtin(b):
            return b.architecture.initialModel(seed: b.seed)
        case .noop:
            return ModelState(zeros: runner.layout)
        case let .external(e):
            switch e.initialization {
            case .zeros: return ModelState(zeros: e.layout)
            case .seeded: return ExternalTaskRunner.seededModel(e.layout, seed: e.seed)
            case .file: return try shippedInitialModel(e)
            case .command:
                guard runningCommands else {
                    throw WorkspaceError("task_runner.settings.initialize is 'command', which runs the workspace's code; it runs only on your own machine (fx plan initialize)")
                }
                do {
                    return try ExternalTaskRunner(settings: externalSettings(e, collaborator: nil, index: 0, data: nil)).initialize()
                } catch {
                    throw WorkspaceError("\(error)\n  (task_runner.settings.initialize is 'command'; 'seeded' or 'zeros' makes the initial model without running it)")
                }
            }
        }
    }

    /// The model file an `initialize: file` plan ships, read without following links and checked
    /// against the declared tensors.
    private func shippedInitialModel(_ e: RunnerPlan.External) throws -> ModelState {
        let fd: Int32
        do { fd = try ContainedPath.openForReading(e.initialModelFile, inside: workspace.root) } catch {
            throw WorkspaceError("\(error) (task_runner.settings.initial_model; `fx plan initialize` with initialize: command writes it)")
        }
        defer { close(fd) }
        var model = try Safetensors.read(descriptor: fd, path: workspace.resolve(e.initialModelFile)).model
        // Its preprocess tensors, if it has any, are replaced by the federation's (or dropped).
        let own = model.layout.tensors.indices.filter { !Standardizer.isPreprocessTensor(model.layout.tensors[$0].name) }
        if own.count < model.layout.tensors.count {
            model = ModelState(layout: try ModelLayout(own.map { model.layout.tensors[$0] }), values: own.flatMap { model.values[model.layout.range(at: $0)] })
        }
        if let difference = e.layout.difference(from: model.layout) {
            throw WorkspaceError("\(workspace.resolve(e.initialModelFile)) does not match task_runner.settings.tensors: \(difference)")
        }
        return model
    }

    /// Refuses a plan that would run the workspace's own code wherever it is read, rather than only
    /// at the sites that approved it: today that is `initialize: command` (the Director makes the
    /// initial model). Errors name the file, line and column of the setting.
    public func checkRunsNoCodeOutsideSites() throws {
        guard case let .external(e) = runner, e.initialization == .command else { return }
        throw PlanCheck.error(plan, "task_runner.settings.initialize",
                              "'command' would run the workspace's code at the Director, which never runs submitted code; "
                              + "use seeded or zeros, or run `fx plan initialize` on your machine, copy save/init.safetensors to "
                              + "\(e.initialModelFile) and set initialize: file (the file travels in the archive)")
    }

    /// Where the initial model is kept in the workspace.
    public var initialModelPath: String { workspace.resolve(aggregator.initialModelPath) }
}
