import FLCore
import Foundation
import Testing
import FLTesting

@Suite struct PlanDefaultsTests {
    /// The description of the `PlanError` `body` throws (nil if it throws nothing).
    func message(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as PlanError {
            return error.description
        } catch {
            return "not a PlanError: \(error)"
        }
    }

    static let aggregatorDefaults = """
        template: openfl.component.Aggregator
        settings:
          rounds_to_train: 10
          best_metric: loss
          db_store_rounds: 2
          nested:
            a: 1
            b: [1, 2]
            c: {x: 1}
          write_logs: true
        """

    @Test func sectionKeysOverrideDefaultsRecursively() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let defaults = try dir.write("root/defaults/aggregator.yaml", Self.aggregatorDefaults)
        let plan = try dir.write("plan.yaml", """
            aggregator:
              defaults: defaults/aggregator.yaml
              settings:
                rounds_to_train: 3
                best_metric:
                nested:
                  b: [9]
                  c: {z: 2}
                  d: new
                extra: 1
            tasks: {train: {kwargs: {defaults: not/a/reference.yaml}}}
            """)
        let loaded = try Plan.load(path: plan, searchRoots: ["\(dir.path)/root"])
        let expected: PlanNode = [
            "aggregator": [
                "template": "openfl.component.Aggregator",
                "settings": [
                    "rounds_to_train": 3, "best_metric": .null, "db_store_rounds": 2,
                    "nested": ["a": 1, "b": [9], "c": ["x": 1, "z": 2], "d": "new"],
                    "write_logs": true, "extra": 1,
                ],
            ],
            // `defaults` deeper than a top-level section is ordinary data.
            "tasks": ["train": ["kwargs": ["defaults": "not/a/reference.yaml"]]],
        ]
        #expect(loaded.root == expected)
        // Defaults' key order first, then the plan's new keys.
        #expect(try loaded.mapping("aggregator").keys == ["template", "settings"])
        #expect(try loaded.mapping("aggregator.settings").keys
            == ["rounds_to_train", "best_metric", "db_store_rounds", "nested", "write_logs", "extra"])
        #expect(try loaded.mapping("aggregator.settings.nested").keys == ["a", "b", "c", "d"])
        #expect(loaded.files == [plan, "\(dir.path)/root/defaults/aggregator.yaml"])
        // Inherited values keep the location they were written at.
        #expect(loaded.node(at: "aggregator.settings.db_store_rounds")?.location == TextLocation(file: defaults, line: 5, column: 20))
        #expect(loaded.node(at: "aggregator.settings.rounds_to_train")?.location == TextLocation(file: plan, line: 4, column: 22))
        #expect(message { _ = try loaded.bool("aggregator.settings.db_store_rounds") }
            == "\(defaults):5:20: aggregator.settings.db_store_rounds: expected a boolean (true or false), found integer 2")
    }

    @Test func anEmptySectionKeepsTheDefaultMapping() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("defaults/aggregator.yaml", Self.aggregatorDefaults)
        let plan = try Plan.parse(text: "aggregator:\n  defaults: defaults/aggregator.yaml\n  settings:\n", file: "plan.yaml", searchRoots: [dir.path])
        #expect(try plan.int("aggregator.settings.rounds_to_train") == 10)
        #expect(try plan.mapping("aggregator.settings").count == 5)
    }

    @Test func defaultsResolveAtEveryLevelAndTheMostSpecificWins() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // The plan's top-level defaults, which themselves start from a base file.
        try dir.write("base.yaml", """
            defaults: base_of_base.yaml
            aggregator:
              settings: {rounds_to_train: 100, from_base: true}
            collaborator:
              settings: {opt: base}
            """)
        try dir.write("base_of_base.yaml", "network:\n  settings: {port: 1}\naggregator:\n  settings: {deepest: yes_it_is}\n")
        // A section's defaults file with a section of its own that has defaults.
        try dir.write("defaults/aggregator.yaml", "settings:\n  rounds_to_train: 10\n  from_section: true\n")
        try dir.write("defaults/collaborator.yaml", "template: c\nsettings:\n  defaults: defaults/collaborator_settings.yaml\n  opt: section\n")
        try dir.write("defaults/collaborator_settings.yaml", "opt: settings_file\nepochs: 4\n")
        let plan = try Plan.parse(text: """
            defaults: base.yaml
            aggregator:
              defaults: defaults/aggregator.yaml
              settings:
                rounds_to_train: 3
            collaborator:
              defaults: defaults/collaborator.yaml
            """, file: "plan.yaml", searchRoots: [dir.path])
        let expected: PlanNode = [
            "network": ["settings": ["port": 1]],
            "aggregator": ["settings": ["deepest": "yes_it_is", "rounds_to_train": 3, "from_base": true, "from_section": true]],
            "collaborator": ["template": "c", "settings": ["opt": "section", "epochs": 4]],
        ]
        #expect(plan.root == expected)
        #expect(plan.files.map { ($0 as NSString).lastPathComponent }
            == ["plan.yaml", "aggregator.yaml", "collaborator.yaml", "collaborator_settings.yaml", "base.yaml", "base_of_base.yaml"])
    }

    @Test func searchRootsAreTriedInOrder() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("one/defaults/x.yaml", "settings: {from: one}")
        try dir.write("two/defaults/x.yaml", "settings: {from: two}")
        try dir.write("two/defaults/y.yaml", "settings: {from: two}")
        let text = "a:\n  defaults: defaults/x.yaml\nb:\n  defaults: defaults/y.yaml\n"
        let oneFirst = try Plan.parse(text: text, file: "plan.yaml", searchRoots: ["\(dir.path)/one", "\(dir.path)/two/"])
        #expect(try oneFirst.string("a.settings.from") == "one")
        #expect(try oneFirst.string("b.settings.from") == "two")
        let twoFirst = try Plan.parse(text: text, file: "plan.yaml", searchRoots: ["\(dir.path)/two", "\(dir.path)/one"])
        #expect(try twoFirst.string("a.settings.from") == "two")
    }

    @Test func aMissingFileIsReportedAtItsReference() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let text = "a: 1\nsection:\n  defaults: defaults/none.yaml\n"
        #expect(message { _ = try Plan.parse(text: text, file: "plan.yaml", searchRoots: ["\(dir.path)/r1", "\(dir.path)/r2"]) }
            == "plan.yaml:3:3: expected the defaults file defaults/none.yaml to exist, found none (searched \(dir.path)/r1, \(dir.path)/r2)")
        #expect(message { _ = try Plan.parse(text: text, file: "plan.yaml", searchRoots: []) }
            == "plan.yaml:3:3: expected the defaults file defaults/none.yaml to exist, found none (no search roots were given)")
        // A directory is not a defaults file.
        try FileManager.default.createDirectory(atPath: "\(dir.path)/r1/defaults/none.yaml", withIntermediateDirectories: true)
        #expect(message { _ = try Plan.parse(text: text, file: "plan.yaml", searchRoots: ["\(dir.path)/r1"]) }?
            .hasPrefix("plan.yaml:3:3: expected the defaults file defaults/none.yaml to exist") == true)
    }

    @Test(arguments: ["../outside.yaml", "defaults/../../outside.yaml", "/etc/hostname", "a/..", ""])
    func pathsOutsideTheRootsAreRefused(_ path: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("outside.yaml", "settings: {}")
        do {
            _ = try Plan.parse(text: "s:\n  defaults: \"\(path)\"\n", file: "plan.yaml", searchRoots: ["\(dir.path)/root"])
            Issue.record("accepted \(path)")
        } catch {
            #expect(error.kind == .defaults)
            #expect(error.location == TextLocation(file: "plan.yaml", line: 2, column: 3))
            #expect(error.description.contains("expected a relative path without '..' for defaults"), "\(error)")
        }
    }

    @Test func cyclesNameTheChain() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("a.yaml", "defaults: b.yaml\nx: 1\n")
        let b = try dir.write("b.yaml", "z: 2\ndefaults: a.yaml\n")
        try dir.write("self.yaml", "settings:\n  defaults: self.yaml\n")
        let plan = try dir.write("plan.yaml", "s:\n  defaults: a.yaml\n")
        #expect(message { _ = try Plan.load(path: plan, searchRoots: [dir.path]) }
            == "\(b):2:1: defaults cycle: \(plan) -> a.yaml -> b.yaml -> a.yaml")
        #expect(message { _ = try Plan.parse(text: "s:\n  defaults: self.yaml\n", file: "p.yaml", searchRoots: [dir.path]) }
            == "\(dir.path)/self.yaml:2:3: defaults cycle: p.yaml -> self.yaml -> self.yaml")
        // A plan that names itself, reached through a search root.
        let itself = try dir.write("itself.yaml", "s:\n  defaults: itself.yaml\n")
        #expect(message { _ = try Plan.load(path: itself, searchRoots: [dir.path]) }
            == "\(itself):2:3: defaults cycle: \(itself) -> itself.yaml")
        // The same file used by two sections is not a cycle.
        try dir.write("shared/b2.yaml", "k: v")
        let shared = try Plan.parse(text: "p:\n  defaults: b2.yaml\nq:\n  defaults: b2.yaml\n", file: "p.yaml",
                                    searchRoots: ["\(dir.path)/shared"])
        #expect(shared.root == ["p": ["k": "v"], "q": ["k": "v"]])
    }

    @Test func deepChainsStopAtTheLimit() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        for i in 0..<40 { try dir.write("d\(i).yaml", "defaults: d\(i + 1).yaml\nk\(i): \(i)\n") }
        try dir.write("d40.yaml", "k40: 40\n")
        let shallow = try Plan.parse(text: "s:\n  defaults: d30.yaml\n", file: "p.yaml", searchRoots: [dir.path])
        #expect(try shallow.mapping("s").count == 11)
        #expect(try shallow.int("s.k40") == 40)
        do {
            _ = try Plan.parse(text: "s:\n  defaults: d0.yaml\n", file: "p.yaml", searchRoots: [dir.path])
            Issue.record("a chain of 41 files was accepted")
        } catch {
            #expect(error.kind == .defaults)
            #expect(error.description.contains("expected at most \(Plan.maxDefaultsDepth) levels of defaults files, found more: p.yaml -> d0.yaml -> d1.yaml"), "\(error)")
        }
    }

    @Test func badReferencesAndBadFilesAreErrors() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("list.yaml", "- a\n- b\n")
        let broken = try dir.write("broken.yaml", "settings:\n  a: [1\n")
        #expect(message { _ = try Plan.parse(text: "s:\n  defaults: [a.yaml]\n", file: "p.yaml", searchRoots: [dir.path]) }
            == "p.yaml:2:13: s.defaults: expected a relative path to a defaults file, found a sequence")
        #expect(message { _ = try Plan.parse(text: "s:\n  defaults: 3\n", file: "p.yaml", searchRoots: [dir.path]) }
            == "p.yaml:2:13: s.defaults: expected a relative path to a defaults file, found integer 3")
        #expect(message { _ = try Plan.parse(text: "s:\n  defaults: list.yaml\n", file: "p.yaml", searchRoots: [dir.path]) }
            == "\(dir.path)/list.yaml:1:1: expected a defaults file to be a mapping of sections, found a sequence")
        #expect(message { _ = try Plan.parse(text: "s:\n  defaults: broken.yaml\n", file: "p.yaml", searchRoots: [dir.path]) }
            == "\(broken):2:6: expected ']' to close the flow sequence that starts here, found the end of the input")
    }

    /// The shipped network defaults work as a section's defaults.
    @Test func networkDefaultsSeedResolves() throws {
        let plans = PyYAMLCompatibilityTests.repositoryRoot + "/plans"
        let plan = try Plan.parse(text: "network:\n  defaults: defaults/network.yaml\n  settings:\n    agg_port: 5000\n",
                                  file: "plan.yaml", searchRoots: [plans])
        #expect(try plan.string("network.settings.agg_addr") == "127.0.0.1")
        #expect(try plan.int("network.settings.agg_port") == 5000)
        #expect(try plan.string("network.settings.agg_name") == "aggregator")
        #expect(try plan.double("network.settings.handshake_timeout") == 10.0)
        #expect(plan.node(at: "network.settings.idle_timeout") == 60.0)
        #expect(try plan.mapping("network.settings").keys == ["agg_addr", "agg_port", "agg_name", "handshake_timeout", "idle_timeout"])
    }

    @Test func mergeReplacesNonMappingsWhole() {
        var base = PlanMapping()
        base["list"] = [1, 2, 3]
        base["map"] = ["a": 1]
        base["scalar"] = "x"
        var override = PlanMapping()
        override["list"] = [4]
        override["map"] = "not a map"
        override["scalar"] = ["now": "a map"]
        let merged = PlanNode(.mapping(Plan.mergeDefaults(base: base, override: override)))
        #expect(merged == ["list": [4], "map": "not a map", "scalar": ["now": "a map"]])
    }
}
