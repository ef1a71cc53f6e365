import FLCore
import Testing

/// The read log sees every setting asked for inside `record`, present or not, and nothing outside it.
@Suite struct PlanReadLogTests {
    @Test func recordsTheSettingsAskedForWithTheirFullPaths() throws {
        let plan = try Plan.parse(text: "a:\n  settings:\n    x: 1\n    list: [{name: first}]\n", file: "p.yaml")
        _ = try plan.int("a.settings.x")  // outside: not recorded
        let reads = try PlanReadLog.record {
            _ = try plan.int("a.settings.x")
            _ = try plan.double("a.settings.missing", default: 2)
            _ = plan.node(at: "a.template")
            for item in try plan.items("a.settings.list") { _ = try item.string("name") }
            _ = try plan.section("a.settings").stringIfPresent("other")
        }
        #expect(Set(reads.map(\.path)) == ["a.settings.x", "a.settings.missing", "a.template", "a.settings.list",
                                           "a.settings.list.0.name", "a.settings", "a.settings.other"])
        #expect(reads.allSatisfy { $0.file == "p.yaml" })
        #expect(PlanReadLog.record {}.isEmpty)
    }
}
