import Foundation
import FLCore

/// A runner that does no learning: training returns the model plus a fixed offset, validation
/// returns a constant. It measures what the federation itself costs (transport, aggregation,
/// scheduling) with the model size of a real experiment.
///
/// With `secondsPerTask`, every task also holds that long before it returns, using no CPU: a
/// simulated site whose computing happens on a machine of its own (for benchmarks and demos that
/// run many sites on one machine, where real training would compete for the same cores).
public final class NoopTaskRunner: TaskRunner {
    public let layout: ModelLayout
    public let offset: Float
    public let sampleCount: Int
    /// Wall time each task holds before it returns (0: none).
    public let secondsPerTask: Double

    /// A runner for a model of `parameterCount` float32 values in one tensor named `parameters`.
    public init(parameterCount: Int, offset: Float = 0.001, sampleCount: Int = 100, secondsPerTask: Double = 0) throws {
        layout = try ModelLayout([TensorSpec(name: "parameters", shape: [parameterCount])])
        self.offset = offset
        self.sampleCount = sampleCount
        self.secondsPerTask = secondsPerTask
    }

    public func run(_ task: TaskInvocation, model: ModelState) throws -> TaskOutcome {
        holdForSimulatedCompute()
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

    /// Sleeps until `secondsPerTask` have passed on the monotonic clock (a sleep may end early, on a
    /// signal, so it is repeated until the time is reached).
    private func holdForSimulatedCompute() {
        guard secondsPerTask > 0 else { return }
        let clock = ContinuousClock()
        let end = clock.now.advanced(by: .nanoseconds(Int64((secondsPerTask * 1e9).rounded(.up))))
        while clock.now < end {
            let left = clock.now.duration(to: end).components
            Thread.sleep(forTimeInterval: Double(left.seconds) + Double(left.attoseconds) / 1e18)
        }
    }
}
