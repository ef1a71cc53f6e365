import Foundation
import Testing
import FLCore
import FLRoles
import FLTesting
import FLTraining

/// What a workspace's plan files may hold: every template loads, the code reads exactly the
/// settings the defaults files declare (they are the schema), each user-named structure refuses a
/// misspelt key at its line, and the free-form section reaches the site's code untouched.
@Suite struct ExperimentPlanSchemaTests {
    static let repository = PythonInterop.repositoryRoot
    static let installation = Installation(root: repository)
    static let sections = ["aggregator", "collaborator", "data_loader", "task_runner", "network", "assigner", "tasks"]
    /// The free-form mapping the digits_numpy template shows (src/train.py reads it).
    static let templateCustom = "    custom:\n      # Multiply the learning rate by this each round (1.0: constant).\n      lr_decay: 1.0\n"

    /// A workspace made from `template`, with each `(old, new)` replacement applied to `file`.
    final class Made {
        let directory: TemporaryDirectory
        let workspace: Workspace

        init(_ template: String, _ edits: [(String, String)] = [], in file: String = "plan/plan.yaml") throws {
            directory = try TemporaryDirectory(prefix: "plan-schema")
            workspace = try Workspace.create(at: directory.appending("ws"), template: template, installation: ExperimentPlanSchemaTests.installation)
            try edit(file, edits)
        }

        func edit(_ file: String, _ edits: [(String, String)]) throws {
            let path = "\(workspace.root)/\(file)"
            var text = try String(contentsOfFile: path, encoding: .utf8)
            for (old, new) in edits {
                try #require(text.contains(old), "\(file) has no '\(old)'")
                text = text.replacingOccurrences(of: old, with: new)
            }
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }

        func load() throws -> ExperimentPlan {
            try ExperimentPlan.load(workspace: workspace, installation: ExperimentPlanSchemaTests.installation)
        }

        /// The error loading the workspace gives, or nil.
        func refusal() -> String? {
            do {
                _ = try load()
                return nil
            } catch {
                return "\(error)"
            }
        }

        /// `file:line:column` of the first `key:` written in `file`.
        func location(of key: String, in file: String = "plan/plan.yaml") throws -> String {
            let path = "\(workspace.root)/\(file)"
            let lines = try String(contentsOfFile: path, encoding: .utf8).components(separatedBy: "\n")
            let line = try #require(lines.firstIndex { $0.trimmingCharacters(in: .whitespaces).hasPrefix("\(key):") }, "\(file) has no '\(key):'")
            let column = lines[line].prefix { $0 == " " }.count + 1
            return "\(path):\(line + 1):\(column)"
        }
    }

    @Test(arguments: ["breast_cancer", "digits", "digits_numpy"])
    func everyTemplateLoadsAsShippedAndAsCreated(_ template: String) throws {
        let shipped = Workspace(root: "\(Self.repository)/workspaces/\(template)")
        let plan = try ExperimentPlan.load(workspace: shipped, installation: Self.installation)
        #expect(plan.collaborators.count >= 2)
        let created = try Made(template).load()
        #expect(created.roundsToTrain == plan.roundsToTrain)
    }

    /// The plans/defaults files are the schema, and the sections are the schema's.
    @Test func theDefaultsFilesAreTheSections() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: "\(Self.repository)/plans/defaults").sorted()
        #expect(files == Self.sections.map { "\($0).yaml" }.sorted())
        guard case let .fields(names, _) = ExperimentPlan.schema.root else {
            Issue.record("the plan schema is not a list of sections")
            return
        }
        #expect(names == Self.sections)
    }

    /// Every plan variant the checks rely on: each runner, each optimizer, each way to declare tensors.
    static let variants: [(template: String, edits: [(String, String)])] = [
        ("digits", []),
        // The template's SCAFFOLD corrects SGD only: with Adam (and with the noop runner), FedAvgM.
        ("digits", [("    optimizer: sgd\n", "    optimizer: adam\n"), ("    aggregation: scaffold\n", "    aggregation: fedavgm\n")]),
        ("breast_cancer", []),
        // Differential privacy: its section's settings are read too.
        ("breast_cancer", [("    rounds_to_train: 10\n", "    rounds_to_train: 10\n    differential_privacy:\n      clip_norm: 1.0\n"
                            + "      noise_multiplier: 1.1\n      delta: 1.0e-5\n      max_epsilon: 8.0\n      placement: central\n")]),
        ("digits_numpy", []),
        ("digits_numpy", [("      dense_0.weight: [10, 64]\n      dense_0.bias: [10]\n",
                           "      - {name: dense_0.weight, shape: [10, 64], dtype: F32}\n      - {name: dense_0.bias, shape: [10]}\n")]),
        ("digits", [("  template: builtin\n", "  template: noop\n"), ("    input_features: 64\n", "    input_features: 64\n    parameters: 100\n"),
                    ("    aggregation: scaffold\n", "    aggregation: fedavgm\n")]),
    ]

    /// A setting the code reads but the defaults lack would be refused in every plan that writes it;
    /// one the defaults hold but nothing reads is a setting that does nothing. Both fail here: the
    /// reads are recorded while every variant loads and is checked.
    @Test func theCodeReadsExactlyTheSettingsTheDefaultsHold() throws {
        var reads: Set<String> = []
        for variant in Self.variants {
            let made = try Made(variant.template, variant.edits)
            let recorded = try PlanReadLog.record {
                let plan = try made.load()
                _ = try plan.checkData()
                _ = try? plan.checkRunsNoCodeOutsideSites()
            }
            reads.formUnion(recorded.filter { $0.file == made.workspace.planPath }.map(\.path))
        }
        #expect(reads.contains("aggregator.settings.rounds_to_train"), "nothing recorded: \(reads.sorted())")

        var defaults: [String: Plan] = [:]
        for section in Self.sections {
            defaults[section] = try Plan.load(path: "\(Self.repository)/plans/defaults/\(section).yaml", searchRoots: ["\(Self.repository)/plans"])
        }
        // Read → declared. Task names are the plan's own (their shape is checked, not their names).
        for path in reads.sorted() {
            let parts = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard let file = defaults[parts[0]] else {
                Issue.record("the code reads \(path), outside every section")
                continue
            }
            if parts[0] == "tasks" || parts.count < 2 { continue }
            let declared = parts[1] == "settings" && parts.count >= 3 ? "settings.\(parts[2])" : parts[1]
            #expect(file.node(at: declared) != nil, "the code reads \(path), but plans/defaults/\(parts[0]).yaml has no \(declared)")
        }
        // Declared → read. `custom` is passed on whole to the site's code, never read by SwiftFL.
        for section in Self.sections where section != "tasks" {
            let file = try #require(defaults[section])
            for key in file.root.asMapping?.keys ?? [] {
                let declared = key == "settings" ? (try file.mapping("settings")).keys.filter { $0 != "custom" }.map { "\(section).settings.\($0)" }
                                                 : ["\(section).\(key)"]
                for setting in declared {
                    #expect(reads.contains { $0 == setting || $0.hasPrefix(setting + ".") },
                            "plans/defaults/\(section).yaml declares \(setting), but no variant reads it")
                }
            }
        }
    }

    @Test func theFirstMisspeltSettingOfAnySectionIsRefusedAtItsLine() throws {
        for (old, new, key, place, suggestion) in [
            ("    rounds_to_train: 3\n", "    rounds_to_trian: 3\n", "rounds_to_trian", "aggregator.settings", "did you mean rounds_to_train?"),
            ("    timeout: 300\n", "    timeot: 300\n", "timeot", "task_runner.settings", "did you mean timeout?"),
            ("    split: iid\n", "    spilt: iid\n", "spilt", "data_loader.settings", "did you mean split?"),
            ("network:\n", "netwrok:\n", "netwrok", "", "did you mean network?"),
            ("collaborator:\n  defaults: defaults/collaborator.yaml\n",
             "collaborator:\n  defaults: defaults/collaborator.yaml\n  settings:\n    long_poll: 5\n", "long_poll", "collaborator.settings",
             "did you mean long_poll_seconds?"),
        ] {
            let made = try Made("digits_numpy", [(old, new)])
            let error = try #require(made.refusal(), "\(new) was accepted")
            let prefix = place.isEmpty ? "" : "\(place): "
            let noun = place.isEmpty ? "section" : "setting"
            #expect(error == "\(try made.location(of: key)): \(prefix)unknown \(noun) '\(key)' (\(suggestion))")
        }
    }

    @Test func eachUserNamedStructureRefusesAMisspeltKey() throws {
        let tasks = "tasks:\n  defaults: defaults/tasks.yaml\n"
        let taskRunner = "    timeout: 300\n"
        for (file, old, new, key, expected) in [
            ("plan/plan.yaml", tasks, tasks + "  train:\n    kwargs:\n      epoch: 2\n", "epoch",
             "tasks.train.kwargs: unknown setting 'epoch' (did you mean epochs?)"),
            ("plan/plan.yaml", tasks, tasks + "  train:\n    kwargs:\n      metrics: [loss]\n", "metrics",
             "tasks.train.kwargs: unknown setting 'metrics' (known: epochs, apply)"),
            ("plan/plan.yaml", tasks, tasks + "  my_check:\n    fuction: validate\n", "fuction",
             "tasks.my_check: unknown setting 'fuction' (did you mean function?)"),
            ("plan/plan.yaml", "assigner:\n  defaults: defaults/assigner.yaml\n",
             "assigner:\n  defaults: defaults/assigner.yaml\n  settings:\n    task_groups:\n      - name: all\n        task: [train]\n", "task",
             "assigner.settings.task_groups.0: unknown setting 'task' (did you mean tasks?)"),
            ("plan/plan.yaml", "      dense_0.weight: [10, 64]\n      dense_0.bias: [10]\n",
             "      - name: dense_0.weight\n        shape: [10, 64]\n        dtyp: F32\n      - {name: dense_0.bias, shape: [10]}\n", "dtyp",
             "task_runner.settings.tensors.0: unknown setting 'dtyp' (did you mean dtype?)"),
            ("plan/data.yaml", "site_2:\n  path: data/digits_8x8.csv\n  shard_index: 1\n",
             "site_2:\n  path: data/digits_8x8.csv\n  shard_idx: 1\n", "shard_idx", "site_2: unknown setting 'shard_idx' (did you mean shard_index?)"),
            ("plan/cols.yaml", "collaborators:\n", "colaborators:\n", "colaborators", "unknown setting 'colaborators' (did you mean collaborators?)"),
        ] {
            let made = try Made("digits_numpy", [(old, new)], in: file)
            let error = try #require(made.refusal(), "\(new) was accepted")
            #expect(error == "\(try made.location(of: key, in: file)): \(expected)")
        }
        // The free-form section may hold anything, but it is a mapping (the error points at the value).
        let notMapping = try Made("digits_numpy", [(Self.templateCustom, "    custom: [not, a, mapping]\n")])
        #expect(notMapping.refusal() == "\(try notMapping.location(of: "custom").dropLast(1))13: "
            + "task_runner.settings.custom: expected a mapping (passed on unchecked to the site's own code), found a sequence")
        // Names the plan chooses are not checked: its own tasks, tensors, variables and custom settings.
        let free = try Made("digits_numpy", [
            (tasks, tasks + "  my_check:\n    function: validate\n    kwargs: {apply: local}\n"),
            (taskRunner, taskRunner + "    environment: {ANY_NAME: \"1\"}\n"),
            (Self.templateCustom, "    custom: {whatever: {it: [is]}}\n"),
        ])
        #expect(free.refusal() == nil, "\(free.refusal() ?? "")")
    }

    /// A plan written against the workspace's own copies of the defaults (`plan/defaults/`) is
    /// checked against those copies.
    @Test func theWorkspacesOwnDefaultsAreItsSchema() throws {
        let made = try Made("digits", [("    rounds_to_train: 20\n", "    rounds_to_train: 20\n    budget: 5\n")])
        #expect(made.refusal()?.contains("aggregator.settings: unknown setting 'budget'") == true)
        try made.edit("plan/defaults/aggregator.yaml", [("settings:\n", "settings:\n  budget: 1\n")])
        #expect(made.refusal() == nil)
        try made.edit("plan/defaults/aggregator.yaml", [("  rounds_to_train: 10\n", "")])
        #expect(made.refusal()?.contains("unknown setting 'rounds_to_train' (known: budget, experiment_name,") == true, "\(made.refusal() ?? "")")
    }

    /// `task_runner.settings.custom` reaches the external command's request as written, with the
    /// rest of `task_runner.settings`.
    @Test func theFreeFormSectionReachesTheExternalCommandsRequest() throws {
        let made = try Made("digits_numpy", [
            ("    command: [python3, src/train.py]\n", "    command: [/bin/sh, capture.sh]\n"),
            ("    initialize: command\n", "    initialize: seeded\n"),
            (Self.templateCustom, """
                    custom:
                      schedule: cosine
                      layers: [64, 32]
                      nested: {anything: goes, 'not a setting': 1.5}

                """),
        ])
        try """
            cp "$SWIFTFL_TASK_REQUEST" request.json
            printf '{"metrics": {"accuracy": 1.0}, "sample_count": 1}' > "$SWIFTFL_RESULT"
            """.write(toFile: "\(made.workspace.root)/capture.sh", atomically: true, encoding: .utf8)
        let plan = try made.load()
        let runner = try plan.makeRunner(for: "site_1")
        _ = try runner.run(TaskInvocation(name: "aggregated_model_validation", function: .validate, round: 0, kwargs: ["apply": .string("global")]),
                           model: ModelState(zeros: plan.layout))
        let request = try PlanNode.parseJSON(Array(try Data(contentsOf: URL(fileURLWithPath: "\(made.workspace.root)/request.json"))))
        let expected: PlanNode = ["schedule": "cosine", "layers": [64, 32], "nested": ["anything": "goes", "not a setting": 1.5]]
        #expect(request.node(at: "settings.custom") == expected)
        #expect(request.node(at: "settings.learning_rate") == 0.1)
        #expect(request.node(at: "kwargs") == ["apply": "global"])
    }
}
