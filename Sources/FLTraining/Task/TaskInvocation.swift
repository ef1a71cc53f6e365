import FLCore

/// What a task does with the model it is given.
public enum TaskFunction: String, Sendable, Hashable, CaseIterable {
    /// Train on the local training split and return the updated model.
    case train
    /// Measure the model on the local validation split.
    case validate
}

/// A plain value from a plan's task arguments.
public enum TaskArgument: Sendable, Hashable, CustomStringConvertible {
    case int(Int)
    case double(Double)
    case string(String)
    case bool(Bool)
    case list([TaskArgument])

    /// The value as an integer: an `int`, or a `double` with no fractional part.
    public var intValue: Int? {
        switch self {
        case .int(let i): i
        case .double(let d) where d == d.rounded() && abs(d) < 9e15: Int(d)
        default: nil
        }
    }

    /// The value as a double: a `double` or an `int`.
    public var doubleValue: Double? {
        switch self {
        case .double(let d): d
        case .int(let i): Double(i)
        default: nil
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var listValue: [TaskArgument]? {
        if case .list(let l) = self { return l }
        return nil
    }

    public var description: String {
        switch self {
        case .int(let i): "\(i)"
        case .double(let d): "\(d)"
        case .string(let s): "\"\(s)\""
        case .bool(let b): "\(b)"
        case .list(let l): "[" + l.map(\.description).joined(separator: ", ") + "]"
        }
    }
}

/// One unit of work a collaborator runs on its local data: a named task of a plan, for one round.
public struct TaskInvocation: Sendable, Hashable {
    /// The task's name in the plan (e.g. `train`, `locally_tuned_model_validation`).
    public var name: String
    public var function: TaskFunction
    /// The federation round, from 0.
    public var round: Int
    /// The task's arguments from the plan (e.g. `epochs: 1`, `apply: "global"`).
    public var kwargs: [String: TaskArgument]

    public init(name: String, function: TaskFunction, round: Int, kwargs: [String: TaskArgument] = [:]) {
        self.name = name
        self.function = function
        self.round = round
        self.kwargs = kwargs
    }
}

/// What a task produced.
public struct TaskOutcome: Sendable, Equatable {
    /// The updated model (train tasks); nil for validation.
    public var model: ModelState?
    /// Metrics by name, unprefixed: `loss`, `accuracy`.
    public var metrics: [String: Double]
    /// Samples the task used; the weight of its model and metrics in a weighted average.
    public var sampleCount: Int

    public init(model: ModelState?, metrics: [String: Double], sampleCount: Int) {
        self.model = model
        self.metrics = metrics
        self.sampleCount = sampleCount
    }
}

/// Runs a collaborator's tasks on its local data. Implementations are called from a dedicated thread
/// (never the concurrency pool) because tasks are long and CPU-bound.
public protocol TaskRunner: Sendable {
    /// The layout of the models this runner accepts and returns.
    var layout: ModelLayout { get }
    /// Runs `task` on `model`.
    func run(_ task: TaskInvocation, model: ModelState) throws -> TaskOutcome
    /// The count, sums and sums of squares of this site's training features, when the federation
    /// standardizes with statistics the sites add up; nil when it does not.
    func featureStatistics() throws -> FeatureStatistics?
}

extension TaskRunner {
    public func featureStatistics() throws -> FeatureStatistics? { nil }
}

/// A task a runner cannot perform as asked.
public struct TaskRunnerError: Error, Sendable, CustomStringConvertible {
    /// The task's name.
    public var task: String
    public var reason: String

    public init(task: String, reason: String) {
        self.task = task
        self.reason = reason
    }

    public var description: String { "task '\(task)': \(reason)" }
}
