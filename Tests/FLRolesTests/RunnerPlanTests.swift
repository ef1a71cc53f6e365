import Foundation
import Testing
import FLCore
import FLRoles
import FLTesting
import FLTraining

/// The noop runner's settings as a plan gives them: `seconds_per_task` is simulated compute time,
/// refused out of range where it is written.
@Suite struct RunnerPlanTests {
    let directory: TemporaryDirectory
    let workspace: Workspace
    let installation: Installation

    init() throws {
        directory = try TemporaryDirectory(prefix: "swiftfl-runner-plan")
        installation = try Installation(root: DirectorFixture.findRepository())
        workspace = try Workspace.create(at: directory.appending("ws"), template: "breast_cancer", installation: installation)
    }

    /// A noop plan whose `task_runner.settings` hold `settings` (line 12 onwards).
    func load(settings: String) throws -> ExperimentPlan {
        try """
            aggregator:
              defaults: defaults/aggregator.yaml
            collaborator:
              defaults: defaults/collaborator.yaml
            data_loader:
              defaults: defaults/data_loader.yaml
            task_runner:
              defaults: defaults/task_runner.yaml
              template: noop
              settings:
                parameters: 10
            \(settings)
            network:
              defaults: defaults/network.yaml
            assigner:
              defaults: defaults/assigner.yaml
            tasks:
              defaults: defaults/tasks.yaml

            """.write(toFile: workspace.planPath, atomically: true, encoding: .utf8)
        return try ExperimentPlan.load(workspace: workspace, installation: installation)
    }

    @Test func simulatedComputeTimeIsZeroUnlessThePlanGivesIt() throws {
        guard case let .noop(plain) = try load(settings: "").runner else { Issue.record("not a noop runner"); return }
        #expect(plain.parameters == 10 && plain.offset == 0.001 && plain.samples == 100 && plain.secondsPerTask == 0)
        guard case let .noop(slow) = try load(settings: "    seconds_per_task: 0.25").runner else { Issue.record("not a noop runner"); return }
        #expect(slow.secondsPerTask == 0.25)
        let made = try load(settings: "    seconds_per_task: 2").makeRunner(for: "hospital_a")
        let runner = try #require(made as? NoopTaskRunner)
        #expect(runner.secondsPerTask == 2)
    }

    @Test(arguments: ["-0.5", "3601", ".inf", ".nan", "-.inf"])
    func anOutOfRangeTimeIsRefusedWhereItIsWritten(_ value: String) throws {
        let error = #expect(throws: PlanError.self) { _ = try load(settings: "    seconds_per_task: \(value)") }
        #expect(error?.keyPath == "task_runner.settings.seconds_per_task")
        #expect(error?.file == workspace.planPath)
        #expect(error?.location?.line == 12)
    }

    @Test func aTimeThatIsNoNumberIsRefused() throws {
        let error = #expect(throws: PlanError.self) { _ = try load(settings: "    seconds_per_task: soon") }
        #expect(error?.kind == .type && error?.keyPath == "task_runner.settings.seconds_per_task" && error?.location?.line == 12)
    }
}
