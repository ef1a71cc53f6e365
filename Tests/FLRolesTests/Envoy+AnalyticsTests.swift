import Foundation
import Testing
import FLCore
@testable import FLRoles
import FLTesting
import FLTraining
import FLWire

/// A site's side of federated analytics: its `analytics.min_count`, the shard it keeps parsed and the
/// bound on its answer's size.
@Suite struct EnvoyAnalyticsTests {
    @Test func minCountIsReadFromTheConfigurationAndChecked() throws {
        let fixture = try DirectorFixture(envoys: ["hospital_a"])
        let path = fixture.envoyConfigurationPath("hospital_a")
        let original = try String(contentsOfFile: path, encoding: .utf8)
        #expect(try EnvoySettings.load(path: path, name: "hospital_a", director: Endpoint(host: "127.0.0.1", port: 1)).analyticsMinimumCount == 10)
        for (text, expected) in [("analytics:\n  min_count: 25\n", "25"), ("analytics:\n  min_count: 0\n", "analytics.min_count"),
                                 ("analytics:\n  min_rows: 5\n", "min_rows")] {
            try (original + text).write(toFile: path, atomically: true, encoding: .utf8)
            do {
                let s = try EnvoySettings.load(path: path, name: "hospital_a", director: Endpoint(host: "127.0.0.1", port: 1))
                #expect("\(s.analyticsMinimumCount)" == expected)
            } catch {
                #expect("\(error)".contains(expected), "\(error)")
            }
        }
    }

    @Test func minCountChangesOnReload() throws {
        let fixture = try DirectorFixture(envoys: ["hospital_a"])
        let path = fixture.envoyConfigurationPath("hospital_a")
        let endpoint = Endpoint(host: "127.0.0.1", port: 1)
        let envoy = try Envoy(settings: try EnvoySettings.load(path: path, name: "hospital_a", director: endpoint), logger: LogRecorder().logger())
        try (try String(contentsOfFile: path, encoding: .utf8) + "analytics:\n  min_count: 40\n").write(toFile: path, atomically: true, encoding: .utf8)
        envoy.reload(try EnvoySettings.load(path: path, name: "hospital_a", director: endpoint))
        #expect(envoy.settings.analyticsMinimumCount == 40)
    }

    @Test func theShardIsParsedAgainOnlyWhenTheFileChanges() throws {
        let directory = try TemporaryDirectory(prefix: "swiftfl-shard")
        let path = directory.appending("s.csv")
        try "a,label\n1,0\n2,1\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try Envoy.shard(at: path, labelColumn: "label").count == 2)
        try "a,label\n1,0\n2,1\n3,1\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try Envoy.shard(at: path, labelColumn: "label").count == 3)
    }

    @Test func theSizeBoundIsAtLeastTheEncodedSize() throws {
        let dataset = try CSVDataset.load(path: "\(try DirectorFixture.findRepository())/workspaces/breast_cancer/data/breast_cancer_wisconsin.csv")
        let query = AnalyticsQuery(columns: [], statistics: AnalyticsStatistic.allCases, groupBy: "label",
                                   histogramEdges: (0...50).map { Double($0) * 10 }, quantiles: [0.5])
        let cells = try ShardAnalytics.evaluate(query, on: dataset, labelColumn: "label", minimumCount: 10)
        #expect(Envoy.encodedSizeBound(cells) >= AnalyticsAnswer(id: "q", cells: cells).encoded().count)
    }
}
