import FLCore
import Foundation
import Testing
import FLTesting

/// The key check: the defaults files are the schema of settings, user-named structures are checked
/// by shape, and every refusal names file:line:column, the place, and the nearest known key.
@Suite struct PlanSchemaTests {
    /// A schema shaped like SwiftFL's (the real one lives with `ExperimentPlan`).
    static let schema = PlanSchema(sections: [
        .defaults("aggregator"),
        .defaults("runner", settings: [
            "tensors": .items(.fields(["name", "shape"])),
            "environment": .entries(.value),
            "custom": .free,
        ]),
        PlanSchema.Section("tasks", .entries(.fields(["function", "kwargs"], nested: ["kwargs": .fields(["epochs", "apply"])]),
                                             reserved: ["settings": .defaults()])),
    ])

    static let aggregatorDefaults = """
        settings:
          rounds_to_train: 10
          best_metric: loss
          nested:
            inner: 1
          list: [1, 2]
          required: null
        """

    static let runnerDefaults = """
        template: builtin
        settings:
          command: null
          tensors: null
          environment: {}
          custom: {}
        """

    /// A folder with `defaults/aggregator.yaml` and `defaults/runner.yaml`.
    func roots() throws -> TemporaryDirectory {
        let dir = try TemporaryDirectory()
        try dir.write("defaults/aggregator.yaml", Self.aggregatorDefaults)
        try dir.write("defaults/runner.yaml", Self.runnerDefaults)
        return dir
    }

    /// The error `text` gets, or nil when it is accepted.
    func refusal(_ text: String, roots: [String], schema: PlanSchema = PlanSchemaTests.schema) -> PlanError? {
        do {
            _ = try Plan.parse(text: text, file: "plan.yaml", searchRoots: roots, schema: schema)
            return nil
        } catch {
            return error
        }
    }

    static let plan = """
        aggregator:
          defaults: defaults/aggregator.yaml
          settings:
            rounds_to_train: 3
            nested:
              inner: 2
            required: 7
        runner:
          defaults: defaults/runner.yaml
          template: external
          settings:
            tensors:
              - {name: w, shape: [2]}
            environment: {ANY_NAME: "1"}
            custom: {lr: 0.1, deep: {anything: [1, {goes: here}]}}
        tasks:
          train:
            function: train
            kwargs: {epochs: 2}

        """

    @Test func aPlanOfKnownKeysIsAcceptedAndReadAsBefore() throws {
        let dir = try roots()
        defer { dir.remove() }
        let plan = try Plan.parse(text: Self.plan, file: "plan.yaml", searchRoots: [dir.path], schema: Self.schema)
        #expect(plan == (try Plan.parse(text: Self.plan, file: "plan.yaml", searchRoots: [dir.path])))
        #expect(try plan.int("aggregator.settings.rounds_to_train") == 3)
        #expect(plan.node(at: "runner.settings.custom") == ["lr": 0.1, "deep": ["anything": [1, ["goes": "here"]]]])
        // Without a schema nothing is checked (configuration files that are not plans).
        #expect(refusal(Self.plan + "whatever: 1\n", roots: [dir.path]) != nil)
        _ = try Plan.parse(text: Self.plan + "whatever: 1\n", file: "plan.yaml", searchRoots: [dir.path])
    }

    @Test(arguments: [
        // A misspelt setting: the nearest known name.
        ("    rounds_to_train: 3\n", "    rounds_to_trian: 3\n",
         "plan.yaml:4:5: aggregator.settings: unknown setting 'rounds_to_trian' (did you mean rounds_to_train?)"),
        // A section of the plan.
        ("aggregator:\n", "agregator:\n", "plan.yaml:1:1: unknown section 'agregator' (did you mean aggregator?)"),
        // A section's own keys.
        ("  template: external\n", "  templat: external\n", "plan.yaml:10:3: runner: unknown setting 'templat' (did you mean template?)"),
        ("  settings:\n    rounds_to_train: 3\n", "  setings:\n    rounds_to_train: 3\n",
         "plan.yaml:3:3: aggregator: unknown setting 'setings' (did you mean settings?)"),
        // Inside a mapping the defaults hold.
        ("      inner: 2\n", "      iner: 2\n", "plan.yaml:6:7: aggregator.settings.nested: unknown setting 'iner' (did you mean inner?)"),
        // Nothing close: the known names, in the defaults' order.
        ("    required: 7\n", "    lr: 7\n",
         "plan.yaml:7:5: aggregator.settings: unknown setting 'lr' (known: rounds_to_train, best_metric, nested, list, required)"),
        // Case and '-' for '_' are near spellings too.
        ("    required: 7\n", "    Rounds-To-Train: 7\n",
         "plan.yaml:7:5: aggregator.settings: unknown setting 'Rounds-To-Train' (did you mean rounds_to_train?)"),
    ])
    func unknownKeysAtEveryDepthAreRefusedWhereTheyAreWritten(_ old: String, _ new: String, _ expected: String) throws {
        let dir = try roots()
        defer { dir.remove() }
        try #require(Self.plan.contains(old))
        let error = try #require(refusal(Self.plan.replacingOccurrences(of: old, with: new), roots: [dir.path]))
        #expect(error.description == expected)
        #expect(error.kind == .unknownKey)
    }

    @Test(arguments: [
        // A task names only function and kwargs; kwargs only epochs and apply.
        ("    function: train\n", "    fuction: train\n", "plan.yaml:18:5: tasks.train: unknown setting 'fuction' (did you mean function?)"),
        ("{epochs: 2}", "{epoch: 2}", "plan.yaml:19:14: tasks.train.kwargs: unknown setting 'epoch' (did you mean epochs?)"),
        ("{epochs: 2}", "{epochs: 2, metrics: [loss]}", "plan.yaml:19:25: tasks.train.kwargs: unknown setting 'metrics' (known: epochs, apply)"),
        // The tasks' own settings hold nothing the defaults do not.
        ("tasks:\n", "tasks:\n  settings: {x: 1}\n", "plan.yaml:17:14: tasks.settings: unknown setting 'x' (SwiftFL reads no settings here)"),
        // Items of a list of fixed fields.
        ("{name: w, shape: [2]}", "{name: w, shap: [2]}", "plan.yaml:13:19: runner.settings.tensors.0: unknown setting 'shap' (did you mean shape?)"),
    ])
    func userNamedStructuresAreCheckedByShape(_ old: String, _ new: String, _ expected: String) throws {
        let dir = try roots()
        defer { dir.remove() }
        try #require(Self.plan.contains(old))
        let error = try #require(refusal(Self.plan.replacingOccurrences(of: old, with: new), roots: [dir.path]))
        #expect(error.description == expected)
    }

    @Test func theFreeFormMappingPassesAnythingButMustBeAMapping() throws {
        let dir = try roots()
        defer { dir.remove() }
        let error = try #require(refusal(Self.plan.replacingOccurrences(of: "custom: {lr: 0.1, deep: {anything: [1, {goes: here}]}}", with: "custom: [1]"),
                                         roots: [dir.path]))
        #expect(error.description == "plan.yaml:15:13: runner.settings.custom: expected a mapping (passed on unchecked to the site's own code), found a sequence")
        #expect(refusal(Self.plan.replacingOccurrences(of: "custom: {lr: 0.1, deep: {anything: [1, {goes: here}]}}", with: "custom:"),
                        roots: [dir.path]) == nil)
    }

    @Test func valuesOfAnotherKindAreLeftToTheirReaders() throws {
        let dir = try roots()
        defer { dir.remove() }
        // A scalar where a mapping is expected, a mapping where the defaults hold a list or null:
        // the typed reads say what was expected; the key check has nothing to add.
        for (old, new) in [("      inner: 2\n", "      inner: {a: 1}\n"), ("    required: 7\n", "    required: {a: 1}\n    list: {b: 2}\n"),
                           ("    tensors:\n      - {name: w, shape: [2]}\n", "    tensors: {w: [2], b: [3]}\n"),
                           ("  train:\n    function: train\n    kwargs: {epochs: 2}\n", "  train: 5\n")] {
            try #require(Self.plan.contains(old))
            #expect(refusal(Self.plan.replacingOccurrences(of: old, with: new), roots: [dir.path]) == nil, "\(new)")
        }
    }

    @Test func theDefaultsInForceAreTheSchemaWhereverTheyComeFrom() throws {
        let dir = try roots()
        defer { dir.remove() }
        // A workspace's own copy, found first, is the schema: a key only it holds is known…
        try dir.write("workspace/defaults/aggregator.yaml", "settings:\n  rounds_to_train: 10\n  local_only: 1\n")
        let roots = ["\(dir.path)/workspace", dir.path]
        let ownKey = "aggregator:\n  defaults: defaults/aggregator.yaml\n  settings:\n    rounds_to_train: 3\n    local_only: 2\n"
        #expect(refusal(ownKey, roots: roots) == nil)
        #expect(refusal(ownKey, roots: [dir.path])?.description.contains("unknown setting 'local_only'") == true)
        // …and a key only the installed file holds is not.
        #expect(refusal(Self.plan, roots: roots)?.description
            == "plan.yaml:5:5: aggregator.settings: unknown setting 'nested' (known: rounds_to_train, local_only)")

        // A defaults file of another name, and the plan's top-level defaults, count as well.
        try dir.write("mine/agg.yaml", "settings:\n  mine: 1\n")
        try dir.write("mine/top.yaml", "aggregator:\n  settings:\n    from_top: 1\n")
        let other = "defaults: mine/top.yaml\naggregator:\n  defaults: mine/agg.yaml\n  settings:\n    mine: 2\n    from_top: 2\n"
        #expect(refusal(other, roots: [dir.path]) == nil)
        #expect(refusal(other + "    rounds_to_train: 3\n", roots: [dir.path])?.description
            == "plan.yaml:7:5: aggregator.settings: unknown setting 'rounds_to_train' (known: from_top, mine)")
    }

    @Test func aSectionWithoutDefaultsIsCheckedAgainstTheFileItWouldName() throws {
        let dir = try roots()
        defer { dir.remove() }
        let bare = "aggregator:\n  settings:\n    rounds_to_train: 3\n"
        let plan = try Plan.parse(text: bare, file: "plan.yaml", searchRoots: [dir.path], schema: Self.schema)
        // Checked, not merged: the values are still only the plan's.
        #expect(plan.root == ["aggregator": ["settings": ["rounds_to_train": 3]]])
        #expect(refusal("aggregator:\n  settings:\n    rounds: 3\n", roots: [dir.path])?.description
            == "plan.yaml:3:5: aggregator.settings: unknown setting 'rounds' (did you mean rounds_to_train?)")
        // With no such file anywhere the section cannot be checked, so it is refused, saying why.
        let error = try #require(refusal(bare, roots: ["\(dir.path)/nowhere"]))
        #expect(error.kind == .defaults)
        #expect(error.description == "plan.yaml:2:3: aggregator: no defaults to check this section's keys against: name them "
            + "(defaults: defaults/aggregator.yaml), or keep SwiftFL's defaults/aggregator.yaml in a search root (searched \(dir.path)/nowhere)")
        // An empty section has nothing to check.
        #expect(refusal("aggregator:\n", roots: []) == nil)
    }

    @Test func errorsAboutInheritedKeysNameTheDefaultsFile() throws {
        let dir = try roots()
        defer { dir.remove() }
        let tasks = try dir.write("tasks.yaml", "train:\n  function: train\n  kwags: {epochs: 1}\n")
        let error = try #require(refusal("tasks:\n  defaults: tasks.yaml\n", roots: [dir.path]))
        #expect(error.description == "\(tasks):3:3: tasks.train: unknown setting 'kwags' (did you mean kwargs?)")
    }

    @Test func filesWithoutSectionsHaveTheirOwnShape() throws {
        let data = PlanSchema(root: .entries(.fields(["path", "shard_index", "shard_count"])))
        #expect(refusal("site_1:\n  path: a.csv\n  shard_index: 0\nsite_2: {path: b.csv}\n", roots: [], schema: data) == nil)
        #expect(refusal("site_1:\n  path: a.csv\n  shard: 0\n", roots: [], schema: data)?.description
            == "plan.yaml:3:3: site_1: unknown setting 'shard' (did you mean shard_index?)")
        let cols = PlanSchema(root: .fields(["collaborators"]))
        #expect(refusal("colaborators: [a]\n", roots: [], schema: cols)?.description
            == "plan.yaml:1:1: unknown setting 'colaborators' (did you mean collaborators?)")
    }

    @Test(arguments: [
        ("rounds_to_trian", "rounds_to_train"),  // a transposition is one edit
        ("round_to_train", "rounds_to_train"),
        ("ROUNDS_TO_TRAIN", "rounds_to_train"),
        ("rounds-to-train", "rounds_to_train"),
        ("rounds", "rounds_to_train"),  // a prefix of four characters or more
        ("learningrate", "learning_rate"),
        ("epoch", "epochs"),
        ("sed", "seed"),
    ])
    func nearSpellingsAreSuggested(_ written: String, _ meant: String) {
        #expect(PlanSchema.closestName(to: written, among: ["seed", "rounds_to_train", "learning_rate", "epochs", "momentum"]) == meant)
    }

    @Test func farSpellingsAreNot() {
        let known = ["seed", "rounds_to_train", "learning_rate", "epochs"]
        for written in ["lr", "step", "x", "", "rate", "train"] {
            #expect(PlanSchema.closestName(to: written, among: known) == nil, "\(written)")
        }
        // The nearest of several wins; ties go to the first listed.
        #expect(PlanSchema.closestName(to: "beta", among: ["beta1", "beta2"]) == "beta1")
        #expect(PlanSchema.closestName(to: "beta3", among: ["beta1", "beta2", "beta3x"]) == "beta1")
    }
}
