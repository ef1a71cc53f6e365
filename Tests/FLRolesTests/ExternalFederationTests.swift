import Foundation
import Testing
import FLCore
import FLRoles
import FLTesting
import FLTraining

/// Federations whose sites train with their own code: the digits_numpy template, whose
/// `src/train.py` (numpy) is run by the external runner for every task, with the real executables.
///
/// Set-up: python3 with numpy (`pip install numpy` or `apt install python3-numpy`); nothing else is
/// installed or downloaded. Without them these tests fail saying so; `SWIFTFL_SKIP_PYTHON=1` skips them.
@Suite(.serialized) struct ExternalFederationTests {
    static let sites = ["site_1", "site_2"]

    @Test(.disabled(if: PythonInterop.skipped, "SWIFTFL_SKIP_PYTHON=1"))
    func numpyFederationOfTwoSitesTrainsForThreeRounds() throws {
        try PythonInterop.requireNumpy()
        let fixture = try FederationFixture(template: "digits_numpy", collaborators: Self.sites)
        let initialization = try fixture.fx(["plan", "initialize", "--workspace", fixture.workspace])
        #expect(initialization.contains("site_1: data/digits_8x8.csv (iid shard 0 of 2), read by the external command"))
        let workspace = Workspace(root: fixture.workspace)
        let initial = try Safetensors.read("\(workspace.saveDirectory)/init.safetensors").model
        // The script's tensors, and the federation's standardizer after them (features as they are until the sites' statistics are in).
        #expect(initial.layout.tensors == [TensorSpec(name: "dense_0.weight", shape: [10, 64]), TensorSpec(name: "dense_0.bias", shape: [10]),
                                           TensorSpec(name: "preprocess.mean", shape: [64]), TensorSpec(name: "preprocess.scale", shape: [64])])
        #expect(initial.tensor("preprocess.scale") == [Float](repeating: 1, count: 64))
        #expect(initial.tensor("dense_0.bias") == [Float](repeating: 0, count: 10))
        #expect(initial.tensor("dense_0.weight")!.contains { $0 != 0 }, "the script's initialize writes random weights")

        let (aggregator, port) = try fixture.startAggregator()
        let sites = try Self.sites.map { try fixture.startCollaborator($0, port: port) }
        let status = try aggregator.waitForExit(timeout: 180)
        #expect(status.isSuccess, "aggregator: \(aggregator.errorTail())")
        for site in sites { #expect(try site.waitForExit(timeout: 30).isSuccess, "\(site.name): \(site.errorTail())") }

        let rounds = FederationFixture.events("round_closed", in: aggregator)
        #expect(rounds.count == 4)  // 3 rounds + the final validation
        let first = try #require((rounds.first?["metrics"] as? [String: Double])?["aggregated_model_validation/accuracy"])
        let finished = try #require(FederationFixture.events("finished", in: aggregator).first)
        let accuracy = try #require((finished["metrics"] as? [String: Double])?["aggregated_model_validation/accuracy"])
        #expect(first < 0.4, "round 0 validates the untrained model")
        #expect(accuracy >= 0.9, "numpy softmax regression after 3 rounds: \(accuracy)")

        let best = try Safetensors.read("\(workspace.saveDirectory)/best.safetensors").model
        #expect(best.layout == initial.layout)
        #expect(best.values != initial.values)
        let records = try MetricsLog.read("\(workspace.logsDirectory)/metrics.jsonl")
        #expect(Set(records.map(\.origin)) == ["aggregator", "site_1", "site_2"])
        for site in Self.sites {
            for round in 0..<3 {
                #expect(records.contains { $0.round == round && $0.origin == site && $0.task == "train" && $0.metric == "loss" }, "\(site) round \(round)")
            }
        }
    }

    /// SCAFFOLD with the site's own code: the numpy script adds the correction SwiftFL hands it in the
    /// model's scaffold.* tensors and reports its steps; SwiftFL keeps each site's control variate.
    @Test(.disabled(if: PythonInterop.skipped, "SWIFTFL_SKIP_PYTHON=1"))
    func scaffoldWithTheNumpyScript() throws {
        try PythonInterop.requireNumpy()
        let fixture = try FederationFixture(template: "digits_numpy", collaborators: Self.sites)
        try fixture.edit("plan/plan.yaml", replacing: "    rounds_to_train: 3\n", with: "    rounds_to_train: 3\n    aggregation: scaffold\n")
        _ = try fixture.fx(["plan", "initialize", "--workspace", fixture.workspace])
        let (aggregator, port) = try fixture.startAggregator()
        let sites = try Self.sites.map { try fixture.startCollaborator($0, port: port) }
        #expect(try aggregator.waitForExit(timeout: 180).isSuccess, "aggregator: \(aggregator.errorTail())")
        for site in sites { #expect(try site.waitForExit(timeout: 30).isSuccess, "\(site.name): \(site.errorTail())") }
        let finished = try #require(FederationFixture.events("finished", in: aggregator).first)
        let accuracy = try #require((finished["metrics"] as? [String: Double])?["aggregated_model_validation/accuracy"])
        #expect(accuracy >= 0.9, "numpy softmax regression with SCAFFOLD after 3 rounds: \(accuracy)")
        let last = try Safetensors.read("\(fixture.workspace)/save/last.safetensors").model
        #expect(last.tensor("scaffold.dense_0.weight")?.contains { $0 != 0 } == true, "the server's control variate never moved")
        for site in Self.sites {
            let (kept, metadata) = try Safetensors.read("\(fixture.workspace)/save/scaffold-\(site).safetensors")
            #expect(metadata["swiftfl.scaffold.round"] == "2" && kept.layout.tensors.map(\.name) == ["dense_0.weight", "dense_0.bias"], "\(site): \(metadata)")
        }
    }

    /// The same workspace with `template: builtin`: one line changed, and the model the numpy
    /// script initialised is trained by SwiftFL's own runner.
    @Test(.disabled(if: PythonInterop.skipped, "SWIFTFL_SKIP_PYTHON=1"))
    func switchingToTheBuiltinRunnerIsOneLine() throws {
        try PythonInterop.requireNumpy()
        let fixture = try FederationFixture(template: "digits_numpy", collaborators: Self.sites)
        try fixture.initialize()
        let workspace = Workspace(root: fixture.workspace)
        let numpyInitial = try Safetensors.read("\(workspace.saveDirectory)/init.safetensors").model

        try fixture.edit("plan/plan.yaml", replacing: "  template: external\n", with: "  template: builtin\n")
        let builtinPlan = try ExperimentPlan.load(workspace: workspace)
        #expect(builtinPlan.runner.name == "builtin")
        #expect(builtinPlan.layout == numpyInitial.layout)
        let (aggregator, port) = try fixture.startAggregator()
        let sites = try Self.sites.map { try fixture.startCollaborator($0, port: port) }
        #expect(try aggregator.waitForExit(timeout: 120).isSuccess, "aggregator: \(aggregator.errorTail())")
        for site in sites { #expect(try site.waitForExit(timeout: 30).isSuccess, "\(site.name): \(site.errorTail())") }
        let finished = try #require(FederationFixture.events("finished", in: aggregator).first)
        let accuracy = try #require((finished["metrics"] as? [String: Double])?["aggregated_model_validation/accuracy"])
        #expect(accuracy >= 0.85, "built-in softmax regression from the numpy initial model: \(accuracy)")
    }

    /// A site whose command fails stops with the command's own words in its error output.
    @Test func aFailingCommandStopsTheSiteWithItsStandardError() throws {
        let fixture = try FederationFixture(template: "digits_numpy", collaborators: Self.sites)
        try fixture.edit("plan/plan.yaml", replacing: "command: [python3, src/train.py]",
                         with: "command: \"echo 'CUDA error: no device found' >&2; exit 7\"")
        try fixture.edit("plan/plan.yaml", replacing: "initialize: command", with: "initialize: seeded\n    work_dir: tasks")
        // Standardized by each site alone, so the one site started here need not wait for the other's statistics.
        try fixture.edit("plan/plan.yaml", replacing: "    split_seed: 0\n", with: "    split_seed: 0\n    standardize: local\n")
        let initialization = try fixture.fx(["plan", "initialize", "--workspace", fixture.workspace])
        #expect(initialization.contains("model: 650 parameters"))
        let (_, port) = try fixture.startAggregator()
        let site = try fixture.startCollaborator("site_1", port: port)
        let status = try site.waitForExit(timeout: 60)
        #expect(!status.isSuccess)
        let errors = site.errorTail()
        #expect(errors.contains("exited with status 7"), "\(errors)")
        #expect(errors.contains("CUDA error: no device found"), "\(errors)")
        // The failed task's folder is kept, in the plan's work_dir, with what the command wrote.
        let kept = try FileManager.default.contentsOfDirectory(atPath: "\(fixture.workspace)/tasks")
        #expect(kept.count == 1 && kept[0].hasPrefix("swiftfl-site_1-r0-aggregated_model_validation-"), "\(kept)")
        #expect(errors.contains("\(fixture.workspace)/tasks/\(kept.first ?? "?")"))
        #expect(try String(contentsOfFile: "\(fixture.workspace)/tasks/\(kept.first ?? "?")/stderr.txt", encoding: .utf8) == "CUDA error: no device found\n")
    }

    /// The template carries its own copy of the digits file (a workspace is copied, so it cannot
    /// link to another template's); it must stay the same bytes, which git stores once.
    @Test func theTemplateShipsTheDigitsFileUnchanged() throws {
        let root = PythonInterop.repositoryRoot
        let original = try Data(contentsOf: URL(fileURLWithPath: "\(root)/workspaces/digits/data/digits_8x8.csv"))
        let copy = try Data(contentsOf: URL(fileURLWithPath: "\(root)/workspaces/digits_numpy/data/digits_8x8.csv"))
        #expect(original.count > 200_000)
        #expect(copy == original)
    }

    @Test func externalPlansAreCheckedWhereTheyAreWritten() throws {
        let directory = try TemporaryDirectory(prefix: "external-plan")
        let installation = Installation(root: PythonInterop.repositoryRoot)
        let workspace = try Workspace.create(at: directory.appending("ws"), template: "digits_numpy", installation: installation)
        let plan = try ExperimentPlan.load(workspace: workspace, installation: installation)
        guard case let .external(external) = plan.runner else { Issue.record("digits_numpy runs \(plan.runner.name)"); return }
        #expect(external.command == ["python3", "src/train.py"])
        #expect(external.timeout == 300)
        #expect(external.initialization == .command)
        #expect(plan.runner.layout.count == 650)
        #expect(plan.layout.count == 650 + 2 * 64, "the script's tensors and the federation's standardizer")
        let data = try plan.externalData(for: "site_2")
        #expect(data.path == "\(workspace.root)/data/digits_8x8.csv")
        #expect(data.split == "iid" && data.shardIndex == 1 && data.shardCount == 2)
        #expect(try plan.externalData(for: "site_2", dataPath: "/elsewhere/mine.csv").split == "none")

        let original = try String(contentsOfFile: workspace.planPath, encoding: .utf8)
        func refused(_ old: String, _ new: String) throws -> String {
            try original.replacingOccurrences(of: old, with: new).write(toFile: workspace.planPath, atomically: true, encoding: .utf8)
            defer { try? original.write(toFile: workspace.planPath, atomically: true, encoding: .utf8) }
            do {
                _ = try ExperimentPlan.load(workspace: workspace, installation: installation)
                Issue.record("accepted \(new)")
                return ""
            } catch {
                return "\(error)"
            }
        }
        let negative = try refused("      dense_0.bias: [10]\n", "      dense_0.bias: [-10]\n")
        #expect(negative.contains("plan.yaml:31:22: task_runner.settings.tensors.dense_0.bias.0: expected a non-negative dimension"), "\(negative)")
        #expect(try refused("      dense_0.bias: [10]\n", "      dense_0.bias: [10]\n      dense_0.bias.x: ten\n")
            .contains("task_runner.settings.tensors.dense_0.bias.x: expected a shape"))
        #expect(try refused("    command: [python3, src/train.py]\n", "").contains("task_runner.settings.command is missing"))
        #expect(try refused("    command: [python3, src/train.py]\n", "    command: []\n").contains("expected the program and its arguments"))
        #expect(try refused("    initialize: command\n", "    initialize: random\n").contains("expected command, seeded, zeros or file, found 'random'"))
        #expect(try refused("    timeout: 300\n", "    timeout: 0\n").contains("task_runner.settings.timeout: expected a positive number"))
        #expect(try refused("  template: external\n", "  template: pytorch\n").contains("expected builtin, external or noop"))

        // A string command runs through the shell; a list of {name, shape} is a layout too.
        try original.replacingOccurrences(of: "    command: [python3, src/train.py]\n", with: "    command: python3 src/train.py --fast\n")
            .replacingOccurrences(of: "      dense_0.weight: [10, 64]\n      dense_0.bias: [10]\n",
                                  with: "      - {name: w, shape: [2, 3]}\n      - {name: b, shape: [2], dtype: F32}\n")
            .write(toFile: workspace.planPath, atomically: true, encoding: .utf8)
        let variant = try ExperimentPlan.load(workspace: workspace, installation: installation)
        guard case let .external(e) = variant.runner else { Issue.record("not external"); return }
        #expect(e.command == ["/bin/sh", "-c", "python3 src/train.py --fast"])
        #expect(variant.runner.layout.tensors == [TensorSpec(name: "w", shape: [2, 3]), TensorSpec(name: "b", shape: [2])])
    }
}
