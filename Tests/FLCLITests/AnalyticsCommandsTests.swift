import Foundation
import Testing
import FLCore
import FLRoles
import FLTesting
import FLTraining

/// `fx analytics` against a Director and three Envoys running as their own processes
/// (`fx director start`, `fx envoy start`), as a data scientist would type it.
@Suite(.serialized) struct AnalyticsCommandsTests {
    @Test func aQueryFromAWorkspaceIsAnsweredByEverySiteAndPrinted() throws {
        let fixture = try DirectorFixture()
        let names = ["hospital_a", "hospital_b", "hospital_c"]
        // hospital_b answers only about cells of at least 100 rows.
        let config = fixture.envoyConfigurationPath("hospital_b")
        try (try String(contentsOfFile: config, encoding: .utf8) + "analytics:\n  min_count: 100\n").write(toFile: config, atomically: true, encoding: .utf8)
        let (director, port) = try fixture.startDirector()
        for name in names { _ = try fixture.startEnvoy(name, port: port) }
        for name in names { try DirectorFixture.waitForEvent("envoy_online", ["envoy": name], in: director, timeout: 30) }
        let client = fixture.clientOptions(port: port)

        let workspace = fixture.directory.appending("query")
        try FileManager.default.createDirectory(atPath: "\(workspace)/plan", withIntermediateDirectories: true)
        try """
            columns: [mean_radius, worst_area]
            statistics: [count, mean, std, histogram, quantiles]
            by: label
            histogram: {min: 0, max: 3000, bins: 6}
            quantiles: [0.5]
            timeout: 30
            """.write(toFile: "\(workspace)/plan/analytics.yaml", atomically: true, encoding: .utf8)
        let output = try fixture.fx(["analytics", "submit", "--workspace", workspace, "--wait", "--json"] + client)
        let result = try JSONCoding.decoder().decode(AnalyticsResult.self, from: Data(output.utf8))
        #expect(result.isComplete)
        #expect(result.sites.map(\.state) == [.answered, .answered, .answered])

        let shards = try names.map { try CSVDataset.load(path: "\(fixture.envoyDirectory($0))/data/\($0).csv") }
        for cell in result.cells {
            let label = try #require(cell.label)
            let rowsAtB = shards[1].labels.filter { Int($0) == label }.count
            let counted = rowsAtB < 100 ? [shards[0], shards[2]] : shards
            let c = try #require(shards[0].featureNames.firstIndex(of: cell.column))
            let values = counted.flatMap { d in (0..<d.count).filter { Int(d.labels[$0]) == label }.map { Double(d.features[$0 * d.featureCount + c]) } }
            #expect(cell.count == values.count)
            #expect(cell.withheld.count == (rowsAtB < 100 ? 1 : 0))
            let mean = values.reduce(0, +) / Double(values.count)
            #expect(abs(try #require(cell.mean) - mean) <= 1e-9 * abs(mean))
        }
        #expect(result.cells.contains { !$0.withheld.isEmpty })

        // The same result, read back as JSON and as a table.
        let again = try fixture.fx(["analytics", "result", result.id, "--json"] + client)
        #expect(try JSONCoding.decoder().decode(AnalyticsResult.self, from: Data(again.utf8)) == result)
        let table = try fixture.fx(["analytics", "result", result.id] + client)
        #expect(table.split(separator: "\n").first == "analytics query \(result.id) by alice: complete (3 of 3 sites answered)")

        // The site's audit log holds the query and what it kept back.
        let audit = try AuditLog.read(fixture.auditLogPath("hospital_b"))
        let line = try #require(audit.last)
        #expect(line.experiment == "analytics:\(result.id)" && line.decision == .answered)
        #expect(line.query == result.query)
        #expect(line.withheld?.isEmpty == false)
    }

    @Test func badQueriesAreRefusedNamingTheField() throws {
        let fixture = try DirectorFixture(envoys: ["hospital_a"])
        let (director, port) = try fixture.startDirector()
        _ = try fixture.startEnvoy("hospital_a", port: port)
        try DirectorFixture.waitForEvent("envoy_online", ["envoy": "hospital_a"], in: director, timeout: 30)
        let client = fixture.clientOptions(port: port)
        // Refused before it leaves (the parser), and by the Director (the label column as a value).
        let bins = try fixture.fxStatus(["analytics", "submit", "--query", "{columns: [mean_radius], histogram: {min: 0, max: 1, bins: 99999}}"] + client)
        #expect(!bins.status.isSuccess)
        #expect(bins.error.contains("histogram.bins"), "\(bins.error)")
        let label = try fixture.fxStatus(["analytics", "submit", "--query", "{columns: [label]}"] + client)
        #expect(!label.status.isSuccess)
        #expect(label.error.contains("columns[0]"), "\(label.error)")
        let neither = try fixture.fxStatus(["analytics", "submit"] + client)
        #expect(neither.status == .exited(64))
    }
}
