import FLCore
import Testing
import FLTesting

@Suite struct PlanTests {
    static let text = """
        aggregator:
          settings:
            rounds_to_train: ten
            rate: 3
            ratio: 0.5
            name: agg
            flag: true
            metrics: [loss, 3]
            empty:
        tasks:
          train:
            kwargs:
              epochs: 2
              metrics:
                - loss
                - accuracy
          validate: {kwargs: {apply: local}}
        collaborators: [one, two]
        """

    let plan: Plan

    init() throws {
        plan = try Plan.parse(text: Self.text, file: "plan.yaml")
    }

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

    @Test func typedReadsReturnValues() throws {
        #expect(try plan.int("aggregator.settings.rate") == 3)
        #expect(try plan.double("aggregator.settings.rate") == 3.0)
        #expect(try plan.double("aggregator.settings.ratio") == 0.5)
        #expect(try plan.string("aggregator.settings.name") == "agg")
        #expect(try plan.bool("aggregator.settings.flag") == true)
        #expect(try plan.strings("tasks.train.kwargs.metrics") == ["loss", "accuracy"])
        #expect(try plan.mapping("tasks").keys == ["train", "validate"])
        #expect(try plan.string("collaborators.1") == "two")
        #expect(try plan.int("tasks.train.kwargs.epochs") == 2)
        #expect(plan.node(at: "tasks.validate.kwargs.apply") == "local")
        #expect(plan.node(at: "") == plan.root)
        #expect(plan.node(at: "tasks.nope.x") == nil)
        #expect(plan.node(at: "collaborators.2") == nil)
        #expect(plan.node(at: "aggregator.settings.name.x") == nil)
    }

    @Test func defaultsAndOptionalsApplyOnlyWhenMissingOrNull() throws {
        #expect(try plan.int("aggregator.settings.nope", default: 10) == 10)
        #expect(try plan.int("aggregator.settings.rate", default: 10) == 3)
        #expect(try plan.int("aggregator.settings.empty", default: 7) == 7)
        #expect(try plan.int("nope.deeper.still", default: 1) == 1)
        #expect(try plan.intIfPresent("aggregator.settings.nope") == nil)
        #expect(try plan.intIfPresent("aggregator.settings.empty") == nil)
        #expect(try plan.doubleIfPresent("aggregator.settings.rate") == 3.0)
        #expect(try plan.string("x", default: "d") == "d")
        #expect(try plan.stringIfPresent("aggregator.settings.name") == "agg")
        #expect(try plan.bool("x", default: true) == true)
        #expect(try plan.boolIfPresent("aggregator.settings.flag") == true)
        #expect(try plan.strings("x", default: ["a"]) == ["a"])
        #expect(try plan.stringsIfPresent("x") == nil)
        #expect(try plan.mapping("x", default: PlanMapping()).isEmpty)
        #expect(try plan.mappingIfPresent("tasks.validate")?.keys == ["kwargs"])
        #expect(try plan.double("x", default: 1.5) == 1.5)
        // A present value of the wrong type is an error even when there is a default.
        #expect(message { _ = try plan.int("aggregator.settings.name", default: 1) }
            == "plan.yaml:6:11: aggregator.settings.name: expected an integer, found string \"agg\"")
        #expect(message { _ = try plan.stringIfPresent("aggregator.settings.rate") }
            == "plan.yaml:4:11: aggregator.settings.rate: expected a string, found integer 3")
    }

    @Test func errorsNameFileLineColumnAndPath() {
        #expect(message { _ = try plan.int("aggregator.settings.rounds_to_train") }
            == "plan.yaml:3:22: aggregator.settings.rounds_to_train: expected an integer, found string \"ten\"")
        #expect(message { _ = try plan.int("aggregator.settings.missing") }
            == "plan.yaml: aggregator.settings.missing is missing (expected an integer)")
        #expect(message { _ = try plan.int("aggregator.settings.ratio") }
            == "plan.yaml:5:12: aggregator.settings.ratio: expected an integer, found float 0.5")
        #expect(message { _ = try plan.bool("aggregator.settings.name") }
            == "plan.yaml:6:11: aggregator.settings.name: expected a boolean (true or false), found string \"agg\"")
        #expect(message { _ = try plan.double("aggregator.settings.flag") }
            == "plan.yaml:7:11: aggregator.settings.flag: expected a number, found boolean true")
        #expect(message { _ = try plan.string("tasks.train") }
            == "plan.yaml:12:5: tasks.train: expected a string, found a mapping")
        #expect(message { _ = try plan.strings("aggregator.settings.metrics") }
            == "plan.yaml:8:21: aggregator.settings.metrics.1: expected a string, found integer 3")
        #expect(message { _ = try plan.strings("aggregator.settings.name") }
            == "plan.yaml:6:11: aggregator.settings.name: expected a sequence of strings, found string \"agg\"")
        #expect(message { _ = try plan.int("aggregator.settings.empty") }
            == "plan.yaml:9:11: aggregator.settings.empty: expected an integer, found null")
        #expect(message { _ = try plan.int("aggregator.settings.name.x") }
            == "plan.yaml:6:11: aggregator.settings.name: expected a mapping (to look up \"x\"), found string \"agg\"")
        #expect(message { _ = try plan.int("aggregator.settings.empty.x") }
            == "plan.yaml: aggregator.settings.empty.x is missing (expected an integer)")
        #expect(message { _ = try plan.string("collaborators.first") }
            == "plan.yaml:18:16: collaborators: expected a mapping (to look up \"first\"), found a sequence")
        #expect(message { _ = try plan.string("collaborators.7") }
            == "plan.yaml: collaborators.7 is missing (expected a string)")
        #expect(message { _ = try plan.mapping("collaborators") }
            == "plan.yaml:18:16: collaborators: expected a mapping, found a sequence")
    }

    @Test func errorsAreTyped() {
        do {
            _ = try plan.int("aggregator.settings.rounds_to_train")
            Issue.record("no error")
        } catch {
            #expect(error.kind == .type)
            #expect(error.keyPath == "aggregator.settings.rounds_to_train")
            #expect(error.location == TextLocation(file: "plan.yaml", line: 3, column: 22))
        }
        do {
            _ = try plan.int("aggregator.nope")
            Issue.record("no error")
        } catch {
            #expect(error.kind == .missing)
            #expect(error.location == nil)
            #expect(error.file == "plan.yaml")
        }
    }

    @Test func sectionsReportFullPaths() throws {
        let tasks = try plan.entries("tasks")
        #expect(tasks.map(\.name) == ["train", "validate"])
        #expect(tasks.map(\.path) == ["tasks.train", "tasks.validate"])
        #expect(try tasks[1].string("kwargs.apply") == "local")
        #expect(message { _ = try tasks[0].int("kwargs.metrics") }
            == "plan.yaml:15:9: tasks.train.kwargs.metrics: expected an integer, found a sequence")
        #expect(message { _ = try tasks[0].int("kwargs.batch_size") }
            == "plan.yaml: tasks.train.kwargs.batch_size is missing (expected an integer)")
        let kwargs = try tasks[0].section("kwargs")
        #expect(kwargs.path == "tasks.train.kwargs")
        #expect(try kwargs.int("epochs") == 2)
        let collaborators = try plan.items("collaborators")
        #expect(collaborators.map(\.name) == ["0", "1"])
        #expect(try collaborators.map { try $0.string("") } == ["one", "two"])
        #expect(message { _ = try collaborators[0].int("") } == "plan.yaml:18:17: collaborators.0: expected an integer, found string \"one\"")
        #expect(try plan.sectionIfPresent("aggregator.settings.empty") == nil)
        #expect(try plan.sectionIfPresent("aggregator.settings")?.path == "aggregator.settings")
        #expect(message { _ = try plan.section("nope") } == "plan.yaml: nope is missing (expected a value)")
        #expect(message { _ = try plan.entries("collaborators") } == "plan.yaml:18:16: collaborators: expected a mapping, found a sequence")
        #expect(message { _ = try plan.items("tasks") } == "plan.yaml:11:3: tasks: expected a sequence, found a mapping")
    }

    @Test func nodesHaveTheSameAccessors() throws {
        let train = try #require(plan.node(at: "tasks.train"))
        #expect(try train.int("kwargs.epochs") == 2)
        #expect(try train.strings("kwargs.metrics") == ["loss", "accuracy"])
        #expect(message { _ = try train.string("kwargs.epochs") } == "plan.yaml:13:15: kwargs.epochs: expected a string, found integer 2")
        #expect(message { _ = try train.int("kwargs.x") } == "plan.yaml: kwargs.x is missing (expected an integer)")
        let built: PlanNode = ["lr": 0.1, "steps": 5]
        #expect(try built.double("lr") == 0.1)
        #expect(try built.double("steps") == 5.0)
        #expect(message { _ = try built.int("lr") } == "<plan>: lr: expected an integer, found float 0.1")
    }

    @Test func loadReadsAFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("plan/plan.yaml", Self.text)
        let loaded = try Plan.load(path: path, searchRoots: [])
        #expect(loaded.root == plan.root)
        #expect(loaded.path == path)
        #expect(loaded.files == [path])
        #expect(message { _ = try loaded.int("aggregator.settings.rounds_to_train") }
            == "\(path):3:22: aggregator.settings.rounds_to_train: expected an integer, found string \"ten\"")
        #expect(message { _ = try loaded.int("aggregator.x") } == "\(path): aggregator.x is missing (expected an integer)")
    }

    @Test func loadReportsUnreadableAndInvalidFiles() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        #expect(message { _ = try Plan.load(path: "\(dir.path)/none.yaml", searchRoots: []) }
            == "\(dir.path)/none.yaml: cannot read the file: no such file")
        #expect(message { _ = try Plan.load(path: dir.path, searchRoots: []) } == "\(dir.path): cannot read the file: it is a directory")
        let bad = try dir.write("bad.yaml", "a: 1\nb: [2\n")
        #expect(message { _ = try Plan.load(path: bad, searchRoots: []) }
            == "\(bad):2:4: expected ']' to close the flow sequence that starts here, found the end of the input")
    }

    @Test func aPlanMustBeAMapping() {
        #expect(message { _ = try Plan.parse(text: "- a\n- b", file: "p.yaml") }
            == "p.yaml:1:1: expected a plan to be a mapping of sections, found a sequence")
        #expect(message { _ = try Plan.parse(text: "# nothing", file: "p.yaml") }
            == "p.yaml: expected a plan to be a mapping of sections, found an empty document")
        #expect(message { _ = try Plan.parse(text: "x", file: "p.yaml") }
            == "p.yaml:1:1: expected a plan to be a mapping of sections, found string \"x\"")
    }
}
