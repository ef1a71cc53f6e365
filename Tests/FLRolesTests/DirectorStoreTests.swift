import Foundation
import Synchronization
import Testing
import FLCore
import FLRoles
import FLTesting
import FLWire

/// The Director's state directory: what is written survives, and is read back the same.
@Suite struct DirectorStoreTests {
    static let shard = ShardDescriptor(path: "a.csv", labelColumn: "label", sampleShape: [30], targetShape: [1], sampleCount: 190)

    static func experiment(_ name: String, _ status: ExperimentStatus) -> ExperimentInfo {
        ExperimentInfo(name: name, status: status, reason: status == .failed ? "the aggregator exited with status 1" : "",
                       archiveSHA256: String(repeating: "ab", count: 32), archiveSize: 10240, submittedBy: "alice", submittedAt: 1_700_000_000,
                       startedAt: status == .queued ? nil : 1_700_000_010, roundsToTrain: 5, roundsCompleted: status == .queued ? 0 : 2,
                       currentRound: status == .running ? 2 : -1, launches: status == .queued ? 0 : 1, collaborators: ["hospital_a"],
                       bestMetric: "aggregated_model_validation/accuracy", bestValue: status == .queued ? nil : 0.93,
                       lastMetrics: status == .queued ? [:] : ["aggregated_model_validation/accuracy": 0.93, "train/loss": status == .running ? .nan : 0.2],
                       rounds: status == .queued ? [] : [RoundInfo(round: 0, finalValidation: false, attempt: 0, metrics: ["a/b": 1], reported: ["hospital_a"],
                                                                    missing: [], duration: 0.25, best: true)],
                       sites: status == .queued ? [] : [SiteInfo(envoy: "hospital_a", state: .running)], version: 7)
    }

    /// A Director that died while unpacking a workspace left the extraction's staging folder (and
    /// an upload); the next start removes them and keeps the experiment's own files.
    @Test func startRemovesHalfUnpackedWorkspacesAndUploads() throws {
        let dir = try TemporaryDirectory(prefix: "swiftfl-store")
        let store = try DirectorStore(root: dir.appending("state"), logger: Logger(label: "test", sink: MemoryLogSink()))
        let experiment = store.directory(of: "x")
        for folder in ["\(experiment)/.workspace.extract-Ab12Cd/plan", "\(experiment)/workspace/plan"] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        try Data([1]).write(to: URL(fileURLWithPath: store.archivePath(of: "x")))
        try Data([1]).write(to: URL(fileURLWithPath: "\(store.incomingDirectory)/x-1-1.tar"))
        _ = try DirectorStore(root: dir.appending("state"), logger: Logger(label: "test", sink: MemoryLogSink()))
        #expect(try FileManager.default.contentsOfDirectory(atPath: experiment).sorted() == ["archive.tar", "workspace"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.incomingDirectory).isEmpty)
    }

    /// Envoys are saved record by record (a registration hands over its own record only): the
    /// registry written holds every Envoy loaded or saved, each as last saved, in name order.
    @Test func envoysAreSavedOneRecordAtATimeIntoTheWholeRegistry() throws {
        let dir = try TemporaryDirectory(prefix: "swiftfl-store")
        let logger = Logger(label: "test", sink: MemoryLogSink())
        let store = try DirectorStore(root: dir.appending("state"), logger: logger)
        func record(_ name: String, _ at: Double) -> EnvoyRecord { EnvoyRecord(name: name, shard: Self.shard, registeredAt: 1, lastRegistration: at) }
        store.save(envoys: [record("site_b", 10)])
        store.save(envoys: [record("site_a", 20)])
        store.synchronize()
        let reopened = try DirectorStore(root: dir.appending("state"), logger: logger)
        #expect(try reopened.loadEnvoys() == [record("site_a", 20), record("site_b", 10)])
        // After a restart the loaded registry is kept: saving one Envoy rewrites it with the others.
        reopened.save(envoys: [record("site_b", 30)])
        reopened.synchronize()
        let again = try DirectorStore(root: dir.appending("state"), logger: logger)
        #expect(try again.loadEnvoys() == [record("site_a", 20), record("site_b", 30)])
    }

    @Test func experimentsAndEnvoysSurviveAndReadBackEqual() throws {
        let dir = try TemporaryDirectory(prefix: "swiftfl-store")
        let logger = Logger(label: "test", sink: MemoryLogSink())
        let store = try DirectorStore(root: dir.appending("state"), logger: logger)
        let experiments = [Self.experiment("done", .failed), Self.experiment("now", .running), Self.experiment("later", .queued)]
        let envoys = [EnvoyRecord(name: "hospital_a", shard: Self.shard, registeredAt: 1_700_000_000, lastRegistration: 1_700_000_100)]
        // Only the newest record of each name matters; earlier ones may or may not be written.
        store.save(changed: [Self.experiment("done", .running)])
        store.save(changed: experiments)
        store.save(envoys: envoys)
        store.synchronize()
        let reopened = try DirectorStore(root: dir.appending("state"), logger: logger)
        let read = try reopened.loadExperiments()
        #expect(read.map(\.name) == ["done", "now", "later"])
        #expect(read[0] == experiments[0])
        #expect(read[1].lastMetrics["train/loss"]?.isNaN == true)  // NaN survives the JSON round trip
        #expect(read[2] == experiments[2])
        #expect(try reopened.loadEnvoys() == envoys)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.appending("state")).sorted()
        #expect(files == ["envoys.json", "experiments", "experiments.journal", "experiments.json", "incoming"])
    }

    @Test func aFailedWriteIsKeptRetriedAndReported() throws {
        let dir = try TemporaryDirectory(prefix: "swiftfl-store")
        let logs = LogRecorder()
        let store = try DirectorStore(root: dir.appending("state"), logger: logs.logger(label: "store"))
        let changes = Mutex<[String?]>([])
        let changed = DispatchSemaphore(value: 0)
        store.onProblemChange { problem in
            changes.withLock { $0.append(problem) }
            changed.signal()
        }
        // Something in the way of experiments.json (a full disk behaves alike): the write fails.
        try FileManager.default.createDirectory(atPath: "\(store.experimentsPath)/in-the-way", withIntermediateDirectories: true)
        store.save(changed: [Self.experiment("first", .queued)])
        store.save(changed: [Self.experiment("first", .queued), Self.experiment("second", .queued)])
        #expect(changed.wait(timeout: .now() + 10) == .success, "no problem reported")
        let problem = try #require(store.problem)
        #expect(problem.contains("experiments.json") && problem.contains("since"), "\(problem)")
        #expect(logs.waitForLine(containing: "cannot write the Director's state", timeout: 10)?.level == .error)
        // Nothing is lost: once the way is clear, a retry writes the newest snapshot.
        try FileManager.default.removeItem(atPath: store.experimentsPath)
        #expect(changed.wait(timeout: .now() + 30) == .success, "the write was not retried")
        #expect(store.problem == nil)
        #expect(changes.withLock { $0.count == 2 && $0[0] != nil && $0[1] == nil })
        #expect(try store.loadExperiments().map(\.name) == ["first", "second"])
    }

    @Test func anEmptyStateDirectoryHasNothingAndLeftoverUploadsAreRemoved() throws {
        let dir = try TemporaryDirectory(prefix: "swiftfl-store")
        let logger = Logger(label: "test", sink: MemoryLogSink())
        try FileManager.default.createDirectory(atPath: dir.appending("state/incoming"), withIntermediateDirectories: true)
        try "half".write(toFile: dir.appending("state/incoming/x.tar"), atomically: true, encoding: .utf8)
        let store = try DirectorStore(root: dir.appending("state"), logger: logger)
        #expect(try store.loadExperiments().isEmpty && store.loadEnvoys().isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.incomingDirectory).isEmpty)
        try "{not json".write(toFile: store.experimentsPath, atomically: true, encoding: .utf8)
        #expect(throws: FileError.self) { try store.loadExperiments() }
    }

    @Test func aRestartedDirectoryResumesTheRunningExperimentFirstAndKeepsTheQueue() throws {
        let fixture = try DirectorFixture(envoys: [])
        let logger = Logger(label: "test", sink: MemoryLogSink())
        let settings = try DirectorSettings.load(path: fixture.directorConfigurationPath)
        let store = try DirectorStore(root: settings.stateDirectory, logger: logger)
        var preparing = Self.experiment("offered", .preparing)
        preparing.sites = [SiteInfo(envoy: "hospital_a", state: .accepted)]
        store.save(changed: [Self.experiment("old", .succeeded), Self.experiment("queued-1", .queued), preparing,
                             Self.experiment("now", .running), Self.experiment("queued-2", .queued)])
        store.save(envoys: [EnvoyRecord(name: "hospital_a", shard: Self.shard, registeredAt: 1, lastRegistration: 2)])
        store.synchronize()
        let director = try Director(settings: settings, logger: logger)
        let restored = director.experiments
        #expect(restored.map(\.status) == [.succeeded, .queued, .queued, .running, .queued])
        #expect(restored.map(\.queuePosition) == [0, 1, 2, 0, 3])
        #expect(restored[2].sites.isEmpty && restored[2].startedAt == nil)  // offered again from scratch
        var now = restored[3]
        #expect(now.lastMetrics.removeValue(forKey: "train/loss")?.isNaN == true)
        var expected = Self.experiment("now", .running)
        expected.lastMetrics.removeValue(forKey: "train/loss")
        #expect(now == expected)
        // The registry is remembered, but nobody is online until they register again.
        #expect(director.envoys.map(\.name) == ["hospital_a"])
        #expect(director.envoys.map(\.online) == [false])
        #expect(director.envoys[0].lastHeartbeatAge == nil)
    }
}
