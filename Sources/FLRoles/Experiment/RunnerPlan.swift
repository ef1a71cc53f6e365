import Foundation
import FLCore
import FLTraining
import FLWire

/// How a site trains: SwiftFL's own runner, the site's own command (`external`), or one that only
/// measures the federation's overhead.
public enum RunnerPlan: Sendable {
    public struct Builtin: Sendable {
        public var architecture: NetworkArchitecture
        public var optimizer: OptimizerSettings
        public var resetOptimizerEachRound: Bool
        public var seed: UInt64
        /// FedProx's μ (`proximal_mu`; 0: none).
        public var proximalMu: Double = 0
    }

    /// The site's own command, run for each task through request files (docs/external-runner.md).
    public struct External: Sendable {
        /// Where `fx plan initialize` gets the starting model.
        public enum Initialization: String, Sendable, CaseIterable {
            /// Run the command with function `initialize`.
            case command
            /// Glorot-uniform weights from the plan's seed (tensors of two or more dimensions), zero 1-D tensors.
            case seeded
            /// Every parameter zero.
            case zeros
            /// The safetensors file `initial_model` names, shipped in the workspace (made beforehand,
            /// e.g. by `fx plan initialize` with `command` on the data scientist's machine).
            case file
        }

        /// The program and its arguments (a string in the plan runs through `/bin/sh -c`).
        public var command: [String]
        /// The declared tensors (`task_runner.settings.tensors`), all F32.
        public var layout: ModelLayout
        public var timeout: Double
        public var terminationGrace: Double
        public var environment: [String: String]
        /// Where task folders go, relative to the workspace unless absolute; nil for the system's temporary folder.
        public var scratchDirectory: String?
        public var keepTaskDirectories: Bool
        public var initialization: Initialization
        /// `task_runner.settings.initial_model`: the file `initialize: file` reads, relative to the workspace.
        public var initialModelFile: String
        public var seed: UInt64
        /// `task_runner.settings` as written, passed to the command.
        public var settings: PlanNode
        /// `task_runner.settings.input_features` and `classes`, when the plan gives them: what the
        /// federation's standardizer covers, and how SwiftFL reads the site's rows for its statistics.
        public var inputFeatures: Int?
        public var classes: Int?
    }

    /// No learning (`NoopTaskRunner`): the federation's own cost, optionally with simulated compute time.
    public struct Noop: Sendable, Equatable {
        /// Floats in the one tensor `parameters`.
        public var parameters: Int
        /// What each training task adds to every parameter.
        public var offset: Double
        /// The sample count each result reports.
        public var samples: Int
        /// Wall time each task holds before it returns, using no CPU (`seconds_per_task`): a site
        /// whose compute runs on a machine of its own, simulated for benchmarks and demos.
        public var secondsPerTask: Double = 0
    }

    /// The longest `seconds_per_task` a plan may ask for: an hour per task is already no benchmark.
    public static let maximumSecondsPerTask = 3600.0

    case builtin(Builtin)
    case noop(Noop)
    case external(External)

    init(_ plan: Plan) throws {
        let template = try plan.string("task_runner.template", default: "builtin")
        let s = "task_runner.settings"
        switch template {
        case "builtin":
            self = .builtin(try RunnerPlan.builtin(plan))
        case "noop":
            let parameters = try plan.int("\(s).parameters")
            guard parameters > 0, parameters <= ModelLayout.maximumCount else {
                throw PlanCheck.error(plan, "\(s).parameters", "expected a positive parameter count, found \(parameters)")
            }
            let samples = try plan.int("\(s).samples", default: 100)
            guard samples > 0 else { throw PlanCheck.error(plan, "\(s).samples", "expected a positive sample count") }
            let seconds = try plan.double("\(s).seconds_per_task", default: 0)
            guard seconds >= 0, seconds <= RunnerPlan.maximumSecondsPerTask else {
                throw PlanCheck.error(plan, "\(s).seconds_per_task",
                                      "expected 0 to \(Int(RunnerPlan.maximumSecondsPerTask)) seconds of simulated compute per task, found \(seconds)")
            }
            self = .noop(Noop(parameters: parameters, offset: try plan.double("\(s).offset", default: 0.001), samples: samples,
                              secondsPerTask: seconds))
        case "external":
            self = .external(try RunnerPlan.external(plan))
        default:
            throw PlanCheck.error(plan, "task_runner.template", "expected builtin, external or noop, found '\(template)'")
        }
    }

    private static func builtin(_ plan: Plan) throws -> Builtin {
        let s = "task_runner.settings"
        let inputs = try plan.int("\(s).input_features")
        let classes = try plan.int("\(s).classes")
        let model = try plan.string("\(s).model", default: "mlp")
        let architecture: NetworkArchitecture
        switch model {
        case "softmax_regression", "logistic_regression":
            architecture = .softmaxRegression(inputs: inputs, classes: classes)
        case "mlp":
            let hidden = try plan.items("\(s).hidden_layers").map { item throws(PlanError) -> Int in
                guard let n = item.node.asInt, n > 0 else { throw PlanCheck.error(item, "", "expected a positive layer width") }
                return n
            }
            let activationName = try plan.string("\(s).activation", default: "relu")
            guard let activation = Activation(rawValue: activationName) else {
                throw PlanCheck.error(plan, "\(s).activation", "expected relu or tanh, found '\(activationName)'")
            }
            architecture = .mlp(inputs: inputs, hidden: hidden, classes: classes, activation: activation)
        default:
            throw PlanCheck.error(plan, "\(s).model", "expected softmax_regression or mlp, found '\(model)'")
        }
        do { try architecture.validate() } catch { throw PlanCheck.error(plan, s, "\(error)") }
        let optimizerName = try plan.string("\(s).optimizer", default: "adam")
        let lr = try plan.double("\(s).learning_rate")
        guard lr > 0, lr.isFinite else { throw PlanCheck.error(plan, "\(s).learning_rate", "expected a positive number, found \(lr)") }
        let weightDecay = try plan.double("\(s).weight_decay", default: 0)
        let optimizer: OptimizerSettings
        switch optimizerName {
        case "sgd":
            optimizer = .sgd(learningRate: lr, momentum: try plan.double("\(s).momentum", default: 0),
                             nesterov: try plan.bool("\(s).nesterov", default: false), weightDecay: weightDecay)
        case "adam":
            optimizer = .adam(learningRate: lr, beta1: try plan.double("\(s).beta1", default: 0.9), beta2: try plan.double("\(s).beta2", default: 0.999),
                              epsilon: try plan.double("\(s).epsilon", default: 1e-8), weightDecay: weightDecay)
        default:
            throw PlanCheck.error(plan, "\(s).optimizer", "expected sgd or adam, found '\(optimizerName)'")
        }
        do { try optimizer.validate() } catch { throw PlanCheck.error(plan, s, "\(error)") }
        let mu = try plan.double("\(s).proximal_mu", default: 0)
        guard mu >= 0, mu.isFinite else { throw PlanCheck.error(plan, "\(s).proximal_mu", "expected 0 or more, found \(mu)") }
        return Builtin(architecture: architecture, optimizer: optimizer,
                                resetOptimizerEachRound: try plan.bool("\(s).reset_optimizer_each_round", default: true),
                                seed: UInt64(truncatingIfNeeded: try plan.int("\(s).seed", default: 0)), proximalMu: mu)
    }

    private static func external(_ plan: Plan) throws -> External {
        let s = "task_runner.settings"
        let command = try command(plan, s)
        let layout = try tensors(plan, s)
        let environment = try environment(plan, s)
        let timeout = try PlanCheck.positive(plan, "\(s).timeout", default: 3600)
        let grace = try plan.double("\(s).termination_grace", default: 5)
        guard grace >= 0, grace.isFinite else { throw PlanCheck.error(plan, "\(s).termination_grace", "expected a non-negative number of seconds, found \(grace)") }
        let initializationName = try plan.string("\(s).initialize", default: External.Initialization.command.rawValue)
        guard let initialization = External.Initialization(rawValue: initializationName) else {
            throw PlanCheck.error(plan, "\(s).initialize", "expected command, seeded, zeros or file, found '\(initializationName)'")
        }
        return External(command: command, layout: layout, timeout: timeout, terminationGrace: grace, environment: environment,
                        scratchDirectory: try PlanCheck.containedPathIfPresent(plan, "\(s).work_dir"),
                        keepTaskDirectories: try plan.bool("\(s).keep_task_dirs", default: false),
                        initialization: initialization, initialModelFile: try PlanCheck.containedPath(plan, "\(s).initial_model", default: "plan/init.safetensors"),
                        seed: UInt64(truncatingIfNeeded: try plan.int("\(s).seed", default: 0)),
                        settings: plan.node(at: s) ?? PlanNode(.mapping(PlanMapping())),
                        inputFeatures: try plan.intIfPresent("\(s).input_features"), classes: try plan.intIfPresent("\(s).classes"))
    }

    /// The command, a list or a line for `/bin/sh -c`.
    private static func command(_ plan: Plan, _ s: String) throws -> [String] {
        let command: [String]
        guard let commandNode = plan.node(at: "\(s).command"), !commandNode.isNull else {
            throw PlanError(.missing, file: plan.path, keyPath: "\(s).command",
                            message: "the command the external runner runs for each task, e.g. [python3, src/train.py]")
        }
        if let line = commandNode.asString {
            guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { throw PlanCheck.error(plan, "\(s).command", "expected a command, found an empty string") }
            command = ["/bin/sh", "-c", line]
        } else {
            command = try plan.strings("\(s).command")
            guard let first = command.first, !first.isEmpty else {
                throw PlanCheck.error(plan, "\(s).command", "expected the program and its arguments, e.g. [python3, src/train.py]")
            }
        }
        return command
    }

    /// The declared tensors: a mapping of names to shapes, or a list of {name, shape, dtype}.
    private static func tensors(_ plan: Plan, _ s: String) throws -> ModelLayout {
        var specs: [TensorSpec] = []
        guard let tensorsNode = plan.node(at: "\(s).tensors"), !tensorsNode.isNull else {
            throw PlanError(.missing, file: plan.path, keyPath: "\(s).tensors",
                            message: "the model's tensors, name: shape, e.g. {dense_0.weight: [10, 64], dense_0.bias: [10]}")
        }
        func shape(_ section: PlanSection) throws -> [Int] {
            guard let items = section.node.asSequence else {
                throw PlanCheck.error(section, "", "expected a shape, a list of non-negative integers such as [10, 64]")
            }
            return try items.enumerated().map { i, item in
                guard let n = item.asInt, n >= 0 else { throw PlanCheck.error(section, "\(i)", "expected a non-negative dimension") }
                return n
            }
        }
        if tensorsNode.asMapping != nil {
            // Tensor names hold dots (`dense_0.weight`), so entries are read from the mapping, not by dotted path.
            for entry in try plan.mapping("\(s).tensors") {
                let section = PlanSection(node: entry.value, path: "\(s).tensors.\(entry.key)", file: entry.value.location?.file ?? plan.path)
                specs.append(TensorSpec(name: entry.key, shape: try shape(section)))
            }
        } else if tensorsNode.asSequence != nil {
            for item in try plan.items("\(s).tensors") {
                let dtype = try item.string("dtype", default: DType.float32.rawValue)
                guard dtype == DType.float32.rawValue else { throw PlanCheck.error(item, "dtype", "expected F32 (models are float32), found '\(dtype)'") }
                specs.append(TensorSpec(name: try item.string("name"), shape: try shape(try item.section("shape"))))
            }
        } else {
            throw PlanCheck.error(plan, "\(s).tensors", "expected a mapping of tensor names to shapes, or a list of {name, shape}")
        }
        guard !specs.isEmpty else { throw PlanCheck.error(plan, "\(s).tensors", "expected at least one tensor") }
        do { return try ModelLayout(specs) } catch { throw PlanCheck.error(plan, "\(s).tensors", "\(error)") }
    }

    /// Extra environment variables for the command: names without `=`, scalar values.
    private static func environment(_ plan: Plan, _ s: String) throws -> [String: String] {
        var environment: [String: String] = [:]
        if let mapping = try plan.mappingIfPresent("\(s).environment") {
            for entry in mapping {
                guard !entry.key.isEmpty, !entry.key.contains("=") else {
                    throw PlanCheck.error(plan, "\(s).environment", "'\(entry.key)' cannot be an environment variable name")
                }
                switch entry.value.value {
                case let .string(v): environment[entry.key] = v
                case let .int(v): environment[entry.key] = String(v)
                case let .float(v): environment[entry.key] = String(v)
                case let .bool(v): environment[entry.key] = String(v)
                default:
                    throw PlanError(.type, file: entry.value.location?.file ?? plan.path, location: entry.value.location,
                                    keyPath: "\(s).environment.\(entry.key)", message: "expected a string value, found \(entry.value.value.summary)")
                }
            }
        }
        return environment
    }

    public var layout: ModelLayout {
        switch self {
        case let .builtin(b): b.architecture.layout
        case let .noop(n): try! ModelLayout([TensorSpec(name: "parameters", shape: [n.parameters])])
        case let .external(e): e.layout
        }
    }
}

extension RunnerPlan {
    /// The plan's name for this runner.
    public var name: String {
        switch self {
        case .builtin: "builtin"
        case .noop: "noop"
        case .external: "external"
        }
    }
}
