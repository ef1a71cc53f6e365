import Foundation
import Testing
import FLCore
import FLRoles
import FLTesting
import FLTraining
import FLWire

/// An Envoy that registers and sends heartbeats (so the Director counts it online) and otherwise
/// does only what the test tells it: it asks for work and answers queries by hand.
final class ScriptedEnvoy: @unchecked Sendable {
    let client: FrameClient
    private let stopped = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)

    init(_ name: String, fixture: DirectorFixture, port: Int) throws {
        let context = try TLSContext(TLSConfiguration(certificateDirectory: "\(fixture.envoyDirectory(name))/cert", name: name), side: .client)
        client = try FrameClient.connect(to: Endpoint(host: "127.0.0.1", port: port), expecting: ExpectedPeer(name: "director", role: .director),
                                         context: context, timeout: 10, idleTimeout: 30)
        let shard = ShardDescriptor(path: "\(name).csv", labelColumn: "label", sampleShape: [30], targetShape: [1], sampleCount: 100)
        _ = try client.call(EnvoyRegistration(envoy: name, shard: shard), timeout: 10)
        let period = fixture.heartbeatPeriod / 2
        Thread { [client, stopped, done] in
            while stopped.wait(timeout: .now() + period) == .timedOut {
                _ = try? client.call(EnvoyHeartbeat(cpuPercent: 0, residentBytes: 0, availableBytes: 0, collaboratorRunning: false, experiment: ""),
                                     timeout: 10)
            }
            done.signal()
        }.start()
    }

    /// Asks for work once (answered at once when a query waits for this site).
    func askForWork() throws -> any WireMessage {
        try client.call(WorkRequest(experiment: "", launch: 0, state: .idle, maximumWaitSeconds: 10), timeout: 30)
    }

    func stop() {
        stopped.signal()
        done.wait()
        client.close()
    }
}

/// Federated analytics through a real Director and real Envoys (in this process), over TLS.
@Suite(.serialized) struct DirectorAnalyticsTests {
    static func shard(_ fixture: DirectorFixture, _ name: String) throws -> Dataset {
        try CSVDataset.load(path: "\(fixture.envoyDirectory(name))/data/\(name).csv")
    }

    /// The values of `column` over `datasets`' rows of `label`.
    static func values(_ datasets: [Dataset], _ column: String, label: Int) -> [Double] {
        datasets.flatMap { d in
            let c = d.featureNames.firstIndex(of: column)!
            return (0..<d.count).filter { Int(d.labels[$0]) == label }.map { Double(d.features[$0 * d.featureCount + c]) }
        }
    }

    @Test func sitesAnswerAndTheDirectorCombinesWhatTheyDidNotWithhold() throws {
        let fixture = try DirectorFixture(users: ["alice", "bob"], admins: ["root"])
        // hospital_c keeps back every label group with fewer than 100 rows.
        let config = fixture.envoyConfigurationPath("hospital_c")
        try (try String(contentsOfFile: config, encoding: .utf8) + "analytics:\n  min_count: 100\n").write(toFile: config, atomically: true, encoding: .utf8)
        let federation = try InProcessFederation(fixture: fixture)
        defer { federation.shutdown() }
        let datasets = try ["hospital_a", "hospital_b", "hospital_c"].map { try Self.shard(fixture, $0) }
        let columns = Array(datasets[0].featureNames.prefix(2))
        let query = AnalyticsQuery(columns: columns, statistics: AnalyticsStatistic.allCases, groupBy: "label",
                                   histogramEdges: [0, 10, 15, 20, 30], quantiles: [0.1, 0.5, 0.9])
        let client = try federation.client()
        let started = try client.submitAnalytics(query)
        #expect(started.sites.map(\.site) == ["hospital_a", "hospital_b", "hospital_c"])
        let result = try client.completedAnalytics(started.id, deadline: .after(seconds: 60))
        #expect(result.isComplete)
        #expect(result.sites.map(\.state) == [.answered, .answered, .answered])

        let small = (0...1).filter { label in datasets[2].labels.filter { Int($0) == label }.count < 100 }
        #expect(!small.isEmpty)
        for cell in result.cells {
            let label = try #require(cell.label)
            let withheldByC = small.contains(label)
            #expect(cell.withheld.count == (withheldByC ? 1 : 0))
            let values = Self.values(withheldByC ? Array(datasets[0..<2]) : datasets, cell.column, label: label)
            let mean = values.reduce(0, +) / Double(values.count)
            let std = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)).squareRoot()
            #expect(cell.count == values.count)
            #expect(abs(try #require(cell.mean) - mean) <= 1e-9 * abs(mean))
            #expect(abs(try #require(cell.std) - std) <= 1e-9 * std)
            let sorted = values.sorted()
            for (q, estimate) in zip(query.quantiles, cell.quantiles) {
                let exact = sorted[Int((q * Double(values.count - 1)).rounded(.down))]
                #expect(abs(estimate - exact) <= QuantileSketch.relativeAccuracy * abs(exact) * (1 + 1e-9))
            }
            let bins = ShardAnalyticsCounts.bins(values, edges: query.histogramEdges)
            // Bins a site withheld are missing from the sum; every other bin is exact.
            for i in bins.indices where cell.binsWithheldBy[i] == 0 { #expect(cell.histogram[i] == bins[i]) }
        }

        // The site wrote the query and what it kept back to its audit log.
        let audit = try AuditLog.read(fixture.auditLogPath("hospital_c"))
        let line = try #require(audit.first { $0.experiment == "analytics:\(started.id)" })
        #expect(line.decision == .answered)
        #expect(line.query == query)
        #expect(line.withheld?.contains { $0.contains("label \(small[0])") } == true)

        // Kept in the state folder; readable by its submitter and admins only.
        #expect(try client.analyticsResult(started.id) == result)
        #expect(try federation.client("root").analyticsResult(started.id) == result)
        #expect(throws: ErrorReply.self) { try federation.client("bob").analyticsResult(started.id) }
        let saved = "\(fixture.stateDirectory)/analytics/\(started.id).json"
        federation.director.synchronizeAnalytics()
        let data = try #require(FileManager.default.contents(atPath: saved))
        #expect(try JSONCoding.decoder().decode(AnalyticsResult.self, from: data) == result)
    }

    @Test func queriesThatCannotRunAreRefusedNamingTheField() throws {
        let federation = try InProcessFederation(envoys: ["hospital_a", "hospital_b"])
        defer { federation.shutdown() }
        let client = try federation.client()
        func refusal(_ query: AnalyticsQuery) -> String? {
            do {
                _ = try client.submitAnalytics(query)
                return nil
            } catch let error as ErrorReply {
                return error.message
            } catch {
                return "\(error)"
            }
        }
        #expect(refusal(AnalyticsQuery(columns: ["label"]))?.contains("columns[0]") == true)
        #expect(refusal(AnalyticsQuery(columns: ["x"], statistics: [.histogram], histogramEdges: Array(0...5000).map(Double.init)))?
            .contains("histogram.bins") == true)
        #expect(refusal(AnalyticsQuery(columns: ["x"], groupBy: "x2"))?.contains("by") == true)
        // A column no site has: every site refuses it, naming the field.
        let started = try client.submitAnalytics(AnalyticsQuery(columns: ["no such column"]))
        let result = try client.completedAnalytics(started.id, deadline: .after(seconds: 60))
        #expect(result.sites.map(\.state) == [.refused, .refused])
        #expect(result.sites.allSatisfy { $0.reason.contains("columns[0]") && $0.reason.contains("no such column") })
        #expect(result.cells.isEmpty)
    }

    @Test func forgedAnswersAreRefusedAndSilentSitesListedMissing() throws {
        let fixture = try DirectorFixture(envoys: ["hospital_a", "hospital_b"])
        try fixture.addEnvoy("mallory")
        let federation = try InProcessFederation(envoys: ["hospital_a", "hospital_b"], fixture: fixture)
        defer { federation.shutdown() }
        let mallory = try ScriptedEnvoy("mallory", fixture: fixture, port: federation.port)
        defer { mallory.stop() }
        try federation.events.wait(timeout: 30, "mallory online") { $0 == .envoyOnline(envoy: "mallory") }
        let client = try federation.client()
        let column = try Self.shard(fixture, "hospital_a").featureNames[0]
        let query = AnalyticsQuery(columns: [column], deadlineSeconds: 5)
        let started = try client.submitAnalytics(query)
        #expect(started.sites.map(\.site) == ["hospital_a", "hospital_b", "mallory"])

        // An answer to a query never sent to it, then a forged answer, then a second one.
        #expect(throws: ErrorReply.self) { try mallory.client.call(AnalyticsAnswer(id: "qnope", refusal: "x"), timeout: 10) }
        let task = try #require(try mallory.askForWork() as? AnalyticsTask)
        #expect(task.id == started.id && task.query == query)
        var forged = ColumnSummary(column: column, label: nil, moments: RunningMoments(count: -5, mean: .nan, m2: 1))
        #expect(throws: ErrorReply.self) { try mallory.client.call(AnalyticsAnswer(id: task.id, cells: [forged]), timeout: 10) }
        forged.moments = RunningMoments(count: 1_000_000, mean: 1e9, m2: 0)
        #expect(throws: ErrorReply.self) { try mallory.client.call(AnalyticsAnswer(id: task.id, cells: [forged]), timeout: 10) }

        let result = try client.completedAnalytics(started.id, deadline: .after(seconds: 60))
        #expect(result.sites.map(\.state) == [.answered, .answered, .rejected], "\(result.sites)")
        #expect(result.sites[2].reason.contains("count -5"))
        let honest = try ["hospital_a", "hospital_b"].map { try Self.shard(fixture, $0) }
        #expect(result.cells.count == 1 && result.cells.first?.count == honest.reduce(0) { $0 + $1.count })

        // A site that never asks for work is listed missing at the deadline; the query completes.
        let next = try client.submitAnalytics(AnalyticsQuery(columns: [column], deadlineSeconds: 1))
        let late = try client.completedAnalytics(next.id, deadline: .after(seconds: 60))
        #expect(late.isComplete)
        #expect(late.sites.map(\.state) == [.answered, .answered, .missing])
        #expect(late.cells.first?.count == result.cells.first?.count)
    }
}

/// Histogram counts computed directly (the test's own, not `ShardAnalytics`'s).
enum ShardAnalyticsCounts {
    static func bins(_ values: [Double], edges: [Double]) -> [Int] {
        var bins = Array(repeating: 0, count: edges.count + 1)
        for x in values {
            let i = x < edges[0] ? 0 : x > edges.last! ? edges.count : x == edges.last! ? edges.count - 1 : edges.lastIndex { $0 <= x }! + 1
            bins[i] += 1
        }
        return bins
    }
}

