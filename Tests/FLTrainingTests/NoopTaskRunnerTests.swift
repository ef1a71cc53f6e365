import Testing
import FLCore
import FLTraining

/// The noop runner: no learning, and optionally a task that holds for simulated compute time.
@Suite struct NoopTaskRunnerTests {
    @Test func trainingAddsTheOffsetAndValidationReportsTheSampleCount() throws {
        let runner = try NoopTaskRunner(parameterCount: 3, offset: 0.5, sampleCount: 7)
        let trained = try runner.run(TaskInvocation(name: "train", function: .train, round: 0), model: ModelState(zeros: runner.layout))
        #expect(trained.model?.values == [0.5, 0.5, 0.5])
        #expect(trained.sampleCount == 7)
        let validated = try runner.run(TaskInvocation(name: "v", function: .validate, round: 0), model: ModelState(zeros: runner.layout))
        #expect(validated.model == nil && validated.metrics == ["accuracy": 0] && validated.sampleCount == 7)
    }

    /// Each task, train or validate, takes at least `secondsPerTask` of monotonic time (no upper
    /// bound: a loaded machine may take longer), and returns what it would without the wait.
    @Test(arguments: [TaskFunction.train, .validate])
    func aTaskHoldsForTheSimulatedComputeTime(_ function: TaskFunction) throws {
        let runner = try NoopTaskRunner(parameterCount: 2, offset: 1, secondsPerTask: 0.3)
        let clock = ContinuousClock()
        let start = clock.now
        let outcome = try runner.run(TaskInvocation(name: "t", function: function, round: 0), model: ModelState(zeros: runner.layout))
        let elapsed = start.duration(to: clock.now)
        #expect(elapsed >= .milliseconds(300), "\(elapsed)")
        #expect(outcome.model?.values == (function == .train ? [1, 1] : nil))
    }
}
