import Foundation
import Testing
import FLCore
import FLRoles
import FLTesting
import FLTraining

/// What a plan may name: every path stays inside its workspace, and a plan that would run its
/// workspace's code outside the sites is refused where it is written.
@Suite struct ExperimentPlanTests {
    let directory: TemporaryDirectory
    let workspace: Workspace
    let installation: Installation

    init() throws {
        directory = try TemporaryDirectory(prefix: "swiftfl-plan")
        installation = try Installation(root: DirectorFixture.findRepository())
        workspace = try Workspace.create(at: directory.appending("ws"), template: "digits_numpy", installation: installation)
    }

    /// Loads the workspace with `old` replaced by `new` in plan/plan.yaml (or `file`); the error text, or nil.
    func load(_ old: String, _ new: String, in file: String = "plan/plan.yaml") throws -> (plan: ExperimentPlan?, error: String?) {
        let path = "\(workspace.root)/\(file)"
        let original = try String(contentsOfFile: path, encoding: .utf8)
        try #require(original.contains(old), "\(file) has no '\(old)'")
        try original.replacingOccurrences(of: old, with: new).write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? original.write(toFile: path, atomically: true, encoding: .utf8) }
        do {
            return (try ExperimentPlan.load(workspace: workspace, installation: installation), nil)
        } catch {
            return (nil, "\(error)")
        }
    }

    @Test(arguments: [
        ("best_state_path", "../../../../cert/director.key", "'..'"),
        ("last_state_path", "/etc/passwd", "absolute"),
        ("init_state_path", "save/../../init.safetensors", "'..'"),
        ("checkpoint_dir", "/tmp/checkpoints", "absolute"),
        ("metrics_log", "~/metrics.jsonl", "'~'"),
    ])
    func aggregatorPathsStayInTheWorkspace(_ key: String, _ value: String, _ reason: String) throws {
        let (plan, error) = try load("    rounds_to_train: 3\n", "    rounds_to_train: 3\n    \(key): \(value)\n")
        #expect(plan == nil)
        let text = try #require(error)
        // file:line:column of the value, the setting, and why.
        #expect(text.contains("plan/plan.yaml:12:") && text.contains("aggregator.settings.\(key): "), "\(text)")
        #expect(text.contains(reason), "\(text)")
    }

    /// The aggregation settings' worst values are refused where they are written, saying the range.
    @Test(arguments: [
        ("aggregation: fedsgd", "aggregator.settings.aggregation: expected one of fedavg, fedavgm"),
        ("server_learning_rate: 0", "aggregator.settings.server_learning_rate: expected a number above 0, found 0.0"),
        ("server_momentum: 1.0", "aggregator.settings.server_momentum: expected a number in [0, 1), found 1.0"),
        ("server_beta_2: -0.1", "aggregator.settings.server_beta_2: expected a number in [0, 1)"),
        ("server_tau: 0", "aggregator.settings.server_tau: expected a number above 0"),
        ("trimmed_mean_beta: 0.5", "aggregator.settings.trimmed_mean_beta: expected a fraction in [0, 0.5), found 0.5"),
        ("krum_f: -1", "aggregator.settings.krum_f: expected 0 or more sites, found -1"),
        ("multi_krum_m: 0", "aggregator.settings.multi_krum_m: expected 1 or more updates, found 0"),
        ("max_update_norm: -1.0", "aggregator.settings.max_update_norm: expected a norm above 0, found -1.0"),
        ("aggregation_memory_budget: -5", "aggregator.settings.aggregation_memory_budget: expected 0 or more bytes, found -5"),
    ])
    func aggregationSettingsOutOfRangeAreRefused(_ setting: String, _ message: String) throws {
        let (plan, error) = try load("    rounds_to_train: 3\n", "    rounds_to_train: 3\n    \(setting)\n")
        #expect(plan == nil)
        #expect(error?.contains("plan/plan.yaml:12:") == true && error?.contains(message) == true, "\(error ?? "")")
    }

    @Test func samplingFedProxAndScaffoldSettingsAreRefusedOutOfRange() throws {
        for fraction in ["0", "1.5"] {
            let (_, error) = try load("assigner:\n  defaults: defaults/assigner.yaml\n",
                                      "assigner:\n  defaults: defaults/assigner.yaml\n  settings:\n    fraction_per_round: \(fraction)\n")
            #expect(error?.contains("assigner.settings.fraction_per_round: expected a fraction in (0, 1]") == true, "\(error ?? "")")
        }
        let builtin = "  template: builtin\n"
        var (_, error) = try load("  template: external\n", builtin)
        #expect(error == nil, "the digits_numpy plan runs with the builtin runner too: \(error ?? "")")
        let path = "\(workspace.root)/plan/plan.yaml"
        let original = try String(contentsOfFile: path, encoding: .utf8)
        defer { try? original.write(toFile: path, atomically: true, encoding: .utf8) }
        try original.replacingOccurrences(of: "  template: external\n", with: builtin).write(toFile: path, atomically: true, encoding: .utf8)
        (_, error) = try load("    optimizer: sgd\n", "    optimizer: sgd\n    proximal_mu: -1.0\n")
        #expect(error?.contains("task_runner.settings.proximal_mu: expected 0 or more, found -1.0") == true, "\(error ?? "")")
        (_, error) = try load("    rounds_to_train: 3\n", "    rounds_to_train: 3\n    aggregation: scaffold\n")
        #expect(error == nil, "\(error ?? "")")
        try original.replacingOccurrences(of: "  template: external\n", with: builtin).replacingOccurrences(of: "    optimizer: sgd\n", with: "    optimizer: adam\n")
            .write(toFile: path, atomically: true, encoding: .utf8)
        (_, error) = try load("    rounds_to_train: 3\n", "    rounds_to_train: 3\n    aggregation: scaffold\n")
        #expect(error?.contains("scaffold corrects SGD's gradients") == true && error?.contains("set optimizer: sgd") == true, "\(error ?? "")")
    }

    @Test func siteAndRunnerPathsStayInTheWorkspace() throws {
        let data = try load("  path: data/digits_8x8.csv\n  shard_index: 0\n", "  path: /home/site/all.csv\n  shard_index: 0\n", in: "plan/data.yaml")
        #expect(data.error?.contains("plan/data.yaml:2:9: site_1.path: '/home/site/all.csv' is absolute") == true, "\(data.error ?? "")")
        let workDir = try load("    timeout: 300\n", "    timeout: 300\n    work_dir: ../../tmp\n")
        #expect(workDir.error?.contains("task_runner.settings.work_dir: '../../tmp' contains '..'") == true, "\(workDir.error ?? "")")
        let initial = try load("    initialize: command\n", "    initialize: file\n    initial_model: /etc/model.safetensors\n")
        #expect(initial.error?.contains("task_runner.settings.initial_model: '/etc/model.safetensors' is absolute") == true, "\(initial.error ?? "")")
    }

    @Test func aPlanThatWouldRunItsCodeAtTheDirectorIsRefusedAtItsLine() throws {
        let plan = try ExperimentPlan.load(workspace: workspace, installation: installation)
        let error = #expect(throws: PlanError.self) { try plan.checkRunsNoCodeOutsideSites() }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains("plan/plan.yaml:33:17: task_runner.settings.initialize: 'command' would run the workspace's code at the Director"), "\(text)")
        #expect(text.contains("initialize: file"), "\(text)")
        // Nor does asking for the model run the command, unless the caller says it may (fx plan initialize).
        #expect(throws: WorkspaceError.self) { _ = try plan.initialModel(runningCommands: false) }
        for safe in ["seeded", "zeros"] {
            let (seeded, loadError) = try load("    initialize: command\n", "    initialize: \(safe)\n")
            let loaded = try #require(seeded, "\(loadError ?? "")")
            try loaded.checkRunsNoCodeOutsideSites()
            #expect(try loaded.initialModel(runningCommands: false).layout == loaded.layout)
        }
    }

    @Test func aShippedInitialModelIsReadInsideTheWorkspaceAndTravelsInTheArchive() throws {
        let planText = try String(contentsOfFile: workspace.planPath, encoding: .utf8)
        try planText.replacingOccurrences(of: "    initialize: command\n", with: "    initialize: file\n")
            .write(toFile: workspace.planPath, atomically: true, encoding: .utf8)
        let plan = try ExperimentPlan.load(workspace: workspace, installation: installation)
        try plan.checkRunsNoCodeOutsideSites()
        // Missing: the error says how to make it.
        let missing = #expect(throws: WorkspaceError.self) { _ = try plan.initialModel(runningCommands: false) }
        #expect(missing.map { "\($0)" }?.contains("plan/init.safetensors") == true)

        var model = ModelState(zeros: plan.runner.layout)
        model.values[3] = 0.5
        try Safetensors.write(model, to: "\(workspace.root)/plan/init.safetensors")
        // Its own tensors as shipped, and the standardizer that changes nothing until the sites' statistics are in.
        let initial = try plan.initialModel(runningCommands: false)
        #expect(initial.layout == plan.layout)
        #expect(Array(initial.values[0..<model.values.count]) == model.values)
        #expect(try Standardizer.fromPreprocessTensors(of: initial, featureCount: 64) == Standardizer.identity(features: 64))

        // The archive carries it; the checks at the Director accept the plan.
        let archive = directory.appending("ws.tar")
        try workspace.export(to: archive)
        let imported = try Workspace.importArchive(archive, into: directory.appending("imported"))
        #expect(FileManager.default.fileExists(atPath: "\(imported.root)/plan/init.safetensors"))
        #expect(!FileManager.default.fileExists(atPath: "\(imported.root)/data/digits_8x8.csv"), "data never travels")

        // A link in its place is not followed, wherever it points.
        try FileManager.default.removeItem(atPath: "\(workspace.root)/plan/init.safetensors")
        try FileManager.default.createSymbolicLink(atPath: "\(workspace.root)/plan/init.safetensors", withDestinationPath: "\(workspace.root)/save/init.safetensors")
        try Safetensors.write(model, to: "\(workspace.root)/save/init.safetensors")
        let linked = #expect(throws: WorkspaceError.self) { _ = try plan.initialModel(runningCommands: false) }
        #expect(linked.map { "\($0)" }?.contains("symbolic link") == true, "\(linked.map { "\($0)" } ?? "")")

        // A file of another model is refused.
        try FileManager.default.removeItem(atPath: "\(workspace.root)/plan/init.safetensors")
        try Safetensors.write(ModelState(zeros: try ModelLayout([TensorSpec(name: "w", shape: [2])])), to: "\(workspace.root)/plan/init.safetensors")
        let other = #expect(throws: WorkspaceError.self) { _ = try plan.initialModel(runningCommands: false) }
        #expect(other.map { "\($0)" }?.contains("does not match task_runner.settings.tensors") == true)
    }

    /// The builtin runner's models describe themselves; an external runner's are its own code's business.
    @Test func aBuiltinPlanDescribesItsModelForEveryModelFile() throws {
        let digits = try ExperimentPlan.load(workspace: try Workspace.create(at: directory.appending("digits"), template: "digits", installation: installation),
                                             installation: installation)
        let description = try #require(digits.modelDescription)
        #expect(description == ModelDescription(architecture: .mlp(inputs: 64, hidden: [64], classes: 10, activation: .relu), labelColumn: "label",
                                                standardization: .federated))
        #expect(digits.modelMetadata == description.metadata)
        let tls = try TestPKI().issue(name: "aggregator", role: .aggregator)
        #expect(digits.aggregatorSettings(experiment: "e", tls: tls).modelMetadata == description.metadata)

        let external = try ExperimentPlan.load(workspace: workspace, installation: installation)
        #expect(external.modelDescription == nil && external.modelMetadata.isEmpty)
        #expect(external.aggregatorSettings(experiment: "e", tls: tls).modelMetadata.isEmpty)
    }
}
