import Foundation
import FLCore

/// What the external command is asked to do.
public enum ExternalFunction: String, Sendable, Hashable, CaseIterable {
    /// Train on the site's training rows; write the updated model and a result.
    case train
    /// Measure the model on the site's validation rows; write a result.
    case validate
    /// Write a starting model for the experiment (run once, by `fx plan initialize`, with no site or data).
    case initialize
}

/// The request file of one task (protocol `swiftfl-external-task`, version 1): everything the
/// command needs, as one JSON object whose paths are absolute. docs/external-runner.md describes
/// each field; this type is the one place that writes them.
struct ExternalTaskRequest {
    static let protocolName = "swiftfl-external-task"
    static let version = 1

    var function: ExternalFunction
    var task: String
    var round: Int
    var kwargs: [String: TaskArgument]
    var settings: ExternalRunnerSettings
    var modelInput: String?
    var modelOutput: String?
    var resultPath: String
    var taskDirectory: String

    /// The request as pretty-printed JSON with sorted keys.
    func json() throws -> String {
        var root = PlanMapping()
        root["protocol"] = PlanNode(.string(Self.protocolName))
        root["version"] = PlanNode(.int(Self.version))
        root["function"] = PlanNode(.string(function.rawValue))
        root["task"] = PlanNode(.string(task))
        root["round"] = PlanNode(.int(round))
        root["collaborator"] = settings.collaborator.map { PlanNode(.string($0)) } ?? PlanNode(.null)
        root["collaborator_index"] = settings.collaborator == nil ? PlanNode(.null) : PlanNode(.int(settings.collaboratorIndex))
        root["seed"] = PlanNode(.int(Int(settings.taskSeed(round: round))))
        // SCAFFOLD: the input model's scaffold.* tensors are the correction to add to every gradient.
        root["scaffold"] = PlanNode(.bool(settings.scaffoldStatePath != nil))
        var kwargs = PlanMapping()
        for key in self.kwargs.keys.sorted() { kwargs[key] = Self.node(self.kwargs[key]!) }
        root["kwargs"] = PlanNode(.mapping(kwargs))
        root["settings"] = settings.runnerSettings
        root["data"] = settings.data.map(Self.node) ?? PlanNode(.null)
        var model = PlanMapping()
        model["path"] = modelInput.map { PlanNode(.string($0)) } ?? PlanNode(.null)
        model["tensors"] = PlanNode(.sequence(settings.layout.tensors.map { spec in
            var t = PlanMapping()
            t["name"] = PlanNode(.string(spec.name))
            t["dtype"] = PlanNode(.string(spec.dtype.rawValue))
            t["shape"] = PlanNode(.sequence(spec.shape.map { PlanNode(.int($0)) }))
            return PlanNode(.mapping(t))
        }))
        root["model"] = PlanNode(.mapping(model))
        var outputs = PlanMapping()
        outputs["model"] = modelOutput.map { PlanNode(.string($0)) } ?? PlanNode(.null)
        outputs["result"] = PlanNode(.string(resultPath))
        root["outputs"] = PlanNode(.mapping(outputs))
        root["task_dir"] = PlanNode(.string(taskDirectory))
        root["workspace"] = PlanNode(.string(settings.workingDirectory))
        return try PlanNode(.mapping(root)).canonicalJSON(pretty: true) + "\n"
    }

    static func node(_ argument: TaskArgument) -> PlanNode {
        switch argument {
        case let .int(i): PlanNode(.int(i))
        case let .double(d): PlanNode(.float(d))
        case let .string(s): PlanNode(.string(s))
        case let .bool(b): PlanNode(.bool(b))
        case let .list(items): PlanNode(.sequence(items.map(node)))
        }
    }

    static func node(_ data: ExternalDataSettings) -> PlanNode {
        var d = PlanMapping()
        d["path"] = PlanNode(.string(data.path))
        d["format"] = PlanNode(.string(data.format))
        d["label_column"] = PlanNode(.string(data.labelColumn))
        d["validation_fraction"] = PlanNode(.float(data.validationFraction))
        d["batch_size"] = PlanNode(.int(data.batchSize))
        d["standardize"] = PlanNode(.bool(data.standardize))
        d["standardization"] = PlanNode(.string(data.standardization))
        d["split"] = PlanNode(.string(data.split))
        d["shard_index"] = PlanNode(.int(data.shardIndex))
        d["shard_count"] = PlanNode(.int(data.shardCount))
        d["split_seed"] = PlanNode(.int(data.splitSeed))
        d["dirichlet_alpha"] = PlanNode(.float(data.dirichletAlpha))
        return PlanNode(.mapping(d))
    }
}

/// The result file a command writes: `{"metrics": {"loss": 0.31, …}, "sample_count": 1437}`.
struct ExternalTaskResult: Equatable {
    /// The largest result file read; anything bigger is not a result.
    static let maximumSize = 1 << 20

    var metrics: [String: Double]
    var sampleCount: Int
    /// Under SCAFFOLD: the optimizer steps the command took, and the step size to divide by.
    var steps: Int?
    var stepSize: Double?

    /// Reads and checks the result file; the error text says what is wrong and where.
    /// - Parameter requireSamples: train and validate results must report a positive sample count.
    static func read(_ path: String, requireSamples: Bool) throws(ResultProblem) -> ExternalTaskResult {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { throw .missing }
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        guard size <= maximumSize else { throw .invalid("\(size) bytes; a result is a small JSON object (at most \(maximumSize) bytes)") }
        guard let bytes = FileManager.default.contents(atPath: path) else { throw .invalid("cannot be read") }
        return try parse(bytes, file: path, requireSamples: requireSamples)
    }

    static func parse(_ bytes: Data, file: String, requireSamples: Bool) throws(ResultProblem) -> ExternalTaskResult {
        let root: PlanNode
        do { root = try PlanNode.parseJSON(bytes, file: file, allowNonFiniteNumbers: true) } catch { throw .invalid("not valid JSON: \(error.message) (\(error.location.map { "line \($0.line), column \($0.column)" } ?? "at the end"))") }
        guard let object = root.asMapping else { throw .invalid("expected a JSON object, found \(root.value.summary)") }
        var metrics: [String: Double] = [:]
        if let node = object["metrics"], !node.isNull {
            guard let mapping = node.asMapping else { throw .invalid("metrics: expected an object of numbers, found \(node.value.summary)") }
            for entry in mapping {
                guard !entry.key.isEmpty else { throw .invalid("metrics: a metric has an empty name") }
                guard let value = entry.value.asDouble else { throw .invalid("metrics.\(entry.key): expected a number, found \(entry.value.value.summary)") }
                guard value.isFinite else { throw .invalid("metrics.\(entry.key) is \(value), not a finite number") }
                metrics[entry.key] = value
            }
        }
        var samples = 0
        let count = object["sample_count"]?.value ?? .null
        switch count {
        case .null:
            if requireSamples { throw .invalid("sample_count is missing (the number of rows the task used, a positive integer)") }
        case let .int(n):
            samples = n
        case let .float(d) where d == d.rounded() && abs(d) < 9e15:
            samples = Int(d)  // `1437.0` from a language without integers
        default:
            throw .invalid("sample_count: expected a positive integer, found \(count.summary)")
        }
        if requireSamples && samples <= 0 { throw .invalid("sample_count must be a positive integer, found \(samples)") }
        var result = ExternalTaskResult(metrics: metrics, sampleCount: max(samples, 0))
        if let node = object["steps"], !node.isNull {
            guard let steps = node.asInt, steps > 0 else { throw .invalid("steps: expected a positive integer, found \(node.value.summary)") }
            result.steps = steps
        }
        if let node = object["step_size"], !node.isNull {
            guard let size = node.asDouble, size > 0, size.isFinite else { throw .invalid("step_size: expected a positive number, found \(node.value.summary)") }
            result.stepSize = size
        }
        return result
    }

    enum ResultProblem: Error {
        case missing
        case invalid(String)
    }
}
