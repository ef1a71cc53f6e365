import FLCore

/// A runner that does no learning: training returns the model plus a fixed offset, validation
/// returns a constant. It measures what the federation itself costs (transport, aggregation,
/// scheduling) with the model size of a real experiment.
public final class NoopTaskRunner: TaskRunner {
    public let layout: ModelLayout
    public let offset: Float
    public let sampleCount: Int

    /// A runner for a model of `parameterCount` float32 values in one tensor named `parameters`.
    public init(parameterCount: Int, offset: Float = 0.001, sampleCount: Int = 100) throws {
        layout = try ModelLayout([TensorSpec(name: "parameters", shape: [parameterCount])])
        self.offset = offset
        self.sampleCount = sampleCount
    }

    public func run(_ task: TaskInvocation, model: ModelState) throws -> TaskOutcome {
        switch task.function {
        case .train:
            var updated = model
            updated.values.withUnsafeMutableBufferPointer { p in
                for i in 0..<p.count { p[i] += offset }
            }
            return TaskOutcome(model: updated, metrics: ["loss": 0], sampleCount: sampleCount)
        case .validate:
            return TaskOutcome(model: nil, metrics: ["accuracy": 0], sampleCount: sampleCount)
        }
    }
}
