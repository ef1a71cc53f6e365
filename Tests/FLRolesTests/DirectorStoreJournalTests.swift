import Foundation
import Synchronization
import Testing
import FLCore
@testable import FLRoles
import FLTesting
import FLWire

/// The experiments' journal on real files: what is appended replays to the same state, a crash at
/// any step (left on disk as that step leaves it) reads back the last state or the next one, and a
/// change costs its own record however many experiments there are.
@Suite struct DirectorStoreJournalTests {
    static func experiment(_ name: String, _ status: ExperimentStatus = .queued, version: UInt64 = 1) -> ExperimentInfo {
        var x = DirectorStoreTests.experiment(name, status)
        x.version = version
        // NaN is not equal to itself: records compared whole must not hold one (DirectorStoreTests checks it survives).
        if x.lastMetrics["train/loss"]?.isNaN == true { x.lastMetrics["train/loss"] = 0.5 }
        return x
    }

    static func store(_ dir: TemporaryDirectory) throws -> DirectorStore {
        try DirectorStore(root: dir.appending("state"), logger: Logger(label: "test", sink: MemoryLogSink()))
    }

    static func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    /// The journal's lines, decoded.
    static func lines(_ store: DirectorStore) throws -> [ExperimentJournal.Line] {
        try JSONLinesFile.lines(in: store.journalPath).map { try JSONCoding.decoder().decode(ExperimentJournal.Line.self, from: Data($0.utf8)) }
    }

    /// One line of the journal as the store writes it, newline included.
    static func lineBytes(_ record: ExperimentInfo, more: Bool = false) throws -> Int {
        try JSONCoding.line(ExperimentJournal.Line(experiment: record, more: more ? true : nil)).utf8.count + 1
    }

    @Test func appendsReplayToTheSameStateAndLeaveTheSnapshotAlone() throws {
        let dir = try TemporaryDirectory(prefix: "swiftfl-journal")
        let store = try Self.store(dir)
        #expect(try store.loadExperiments().isEmpty)
        store.save(changed: [Self.experiment("a"), Self.experiment("b")])
        store.synchronize()
        // The first save finds no journal: it starts one after a snapshot (of nothing yet).
        let snapshot = try Self.bytes(store.experimentsPath)
        store.save(changed: [Self.experiment("a", .running, version: 2)])
        store.synchronize()
        store.save(changed: [Self.experiment("c"), Self.experiment("b", .cancelled, version: 3)])
        store.synchronize()
        #expect(try Self.bytes(store.experimentsPath) == snapshot)
        let lines = try Self.lines(store)
        #expect(lines.map(\.follows) == [1, nil, nil, nil, nil, nil])
        #expect(lines.compactMap(\.experiment?.name) == ["a", "b", "a", "c", "b"])
        #expect(lines.map(\.more) == [nil, true, nil, nil, true, nil])
        let expected = [Self.experiment("a", .running, version: 2), Self.experiment("b", .cancelled, version: 3), Self.experiment("c")]
        #expect(try Self.store(dir).loadExperiments() == expected)
        // Replaying twice (a reload on the same store) is the same.
        #expect(try store.loadExperiments() == expected)
        #expect(try store.loadExperiments() == expected)
    }

    @Test func aChangeCostsItsOwnRecordHoweverManyExperimentsThereAre() throws {
        func bytesForOneChange(among count: Int) throws -> (Int, Int) {
            let dir = try TemporaryDirectory(prefix: "swiftfl-journal")
            let store = try Self.store(dir)
            var state = DirectorState(settings: DirectorSettings(sampleShape: [30], targetShape: [1], stateDirectory: dir.appending("state"),
                                                                 certificateDirectory: dir.path, aggregatorAddress: "127.0.0.1"))
            for i in 0..<count { state.append(Self.experiment(String(format: "x%05d", i), .succeeded)) }
            let saved = state.saveChangedExperiments(to: store)
            let savedAgain = state.saveChangedExperiments(to: store)
            #expect(saved && !savedAgain)  // nothing changed since
            store.synchronize()
            let before = store.written.bytes
            state.update("x00003") { $0.currentRound = 4 }
            #expect(state.changedExperiments == ["x00003"])
            let savedChange = state.saveChangedExperiments(to: store)
            #expect(savedChange)
            store.synchronize()
            var expected = Self.experiment("x00003", .succeeded)
            expected.currentRound = 4
            expected.version = state.experiment("x00003")!.version
            #expect(try Self.store(dir).loadExperiments().first { $0.name == "x00003" } == expected)
            return (store.written.bytes - before, try Self.lineBytes(expected))
        }
        let (few, line) = try bytesForOneChange(among: 10)
        let (many, sameLine) = try bytesForOneChange(among: 2_000)
        #expect(few == line)
        #expect(many == sameLine && sameLine == line)
    }

    @Test func aTornLastLineIsDroppedAndNeverContinued() throws {
        let dir = try TemporaryDirectory(prefix: "swiftfl-journal")
        let store = try Self.store(dir)
        store.save(changed: [Self.experiment("a")])
        store.synchronize()
        store.save(changed: [Self.experiment("a", .running, version: 2)])
        store.synchronize()
        // A crash inside the next append's write: part of its line, no newline.
        let torn = try JSONCoding.line(ExperimentJournal.Line(experiment: Self.experiment("a", .failed, version: 3)))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: store.journalPath))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(torn.utf8.prefix(40)))
        try handle.close()
        let reopened = try Self.store(dir)
        #expect(try reopened.loadExperiments() == [Self.experiment("a", .running, version: 2)])
        // The next save does not glue its line to the torn piece: it starts from a new snapshot.
        reopened.save(changed: [Self.experiment("b")])
        reopened.synchronize()
        #expect(reopened.written.compactions == 1)
        #expect(try JSONLinesFile.contents(of: reopened.journalPath).torn == false)
        #expect(try Self.store(dir).loadExperiments() == [Self.experiment("a", .running, version: 2), Self.experiment("b")])
    }

    @Test func aSaveWithoutItsLastLineIsLeftOut() throws {
        let dir = try TemporaryDirectory(prefix: "swiftfl-journal")
        let store = try Self.store(dir)
        store.save(changed: [Self.experiment("a")])
        store.synchronize()
        // The first line of a two-line save made it, whole; its last did not.
        let first = try JSONCoding.line(ExperimentJournal.Line(experiment: Self.experiment("a", .running, version: 2), more: true))
        try JSONLinesFile(path: store.journalPath).append(lines: [first])
        let reopened = try Self.store(dir)
        #expect(try reopened.loadExperiments() == [Self.experiment("a")])
        reopened.save(changed: [Self.experiment("c")])
        reopened.synchronize()
        #expect(try Self.store(dir).loadExperiments() == [Self.experiment("a"), Self.experiment("c")])
    }

    /// A compaction is: write the snapshot's temporary file, rename it into place, write the new
    /// journal's temporary file, rename it into place. Each crash point is laid out as it leaves the
    /// files; each reads back the state (snapshot and journal hold the same one at every point), and
    /// the Director goes on saving from there.
    @Test func aCrashAtEachStepOfACompactionReadsBackTheState() throws {
        let dir = try TemporaryDirectory(prefix: "swiftfl-journal")
        let store = try Self.store(dir)
        store.save(changed: [Self.experiment("a"), Self.experiment("b")])
        store.synchronize()
        store.save(changed: [Self.experiment("a", .succeeded, version: 2)])
        store.synchronize()
        let state = [Self.experiment("a", .succeeded, version: 2), Self.experiment("b")]
        let (oldSnapshot, oldJournal) = (try Self.bytes(store.experimentsPath), try Self.bytes(store.journalPath))
        try store.compact()
        let (newSnapshot, newJournal) = (try Self.bytes(store.experimentsPath), try Self.bytes(store.journalPath))
        #expect(try Self.lines(store).map(\.follows) == [2])
        let pid = 4_000_000  // not this process's: a write by a process that crashed
        let steps: [(String, [String: Data])] = [
            ("snapshot's temporary file written", ["experiments.json": oldSnapshot, "experiments.journal": oldJournal,
                                                   "experiments.json.tmp.\(pid)": newSnapshot]),
            ("snapshot renamed", ["experiments.json": newSnapshot, "experiments.journal": oldJournal]),
            ("journal's temporary file written", ["experiments.json": newSnapshot, "experiments.journal": oldJournal,
                                                  "experiments.journal.tmp.\(pid)": newJournal]),
            ("journal renamed", ["experiments.json": newSnapshot, "experiments.journal": newJournal]),
        ]
        for (step, files) in steps {
            let crashed = try TemporaryDirectory(prefix: "swiftfl-journal")
            try FileManager.default.createDirectory(atPath: crashed.appending("state"), withIntermediateDirectories: true)
            for (name, data) in files { try data.write(to: URL(fileURLWithPath: crashed.appending("state/\(name)"))) }
            let restarted = try Self.store(crashed)
            #expect(try restarted.loadExperiments() == state, "\(step)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: restarted.root).filter { $0.contains(".tmp.") }.isEmpty, "\(step)")
            restarted.save(changed: [Self.experiment("b", .running, version: 2)])
            restarted.synchronize()
            #expect(restarted.problem == nil, "\(step)")
            #expect(try Self.store(crashed).loadExperiments() == [state[0], Self.experiment("b", .running, version: 2)], "\(step)")
        }
    }

    @Test func aJournalAheadOfItsSnapshotIsAnErrorNotAnEmptyState() throws {
        let dir = try TemporaryDirectory(prefix: "swiftfl-journal")
        let store = try Self.store(dir)
        store.save(changed: [Self.experiment("a")])
        store.synchronize()
        try store.compact()
        let journal = try Self.bytes(store.journalPath)
        // The snapshot of generation 2 lost (restored from an old backup, say) while its journal stayed.
        try JSONCoding.encoder(.pretty).encode(ExperimentJournal.Snapshot(generation: 1, experiments: [])).write(to: URL(fileURLWithPath: store.experimentsPath))
        try journal.write(to: URL(fileURLWithPath: store.journalPath))
        let error = #expect(throws: FileError.self) { try Self.store(dir).loadExperiments() }
        #expect(error?.path == store.journalPath && error?.reason.contains("generation 2") == true, "\(String(describing: error))")
    }

    @Test func anExperimentsFileFromBeforeTheJournalIsReadAndUpgradedAtTheFirstCompaction() throws {
        let dir = try TemporaryDirectory(prefix: "swiftfl-journal")
        try FileManager.default.createDirectory(atPath: dir.appending("state"), withIntermediateDirectories: true)
        // As the Director wrote it before: the whole list, pretty, rewritten on every change.
        let old = [Self.experiment("done", .succeeded), Self.experiment("now", .running), Self.experiment("later")]
        let legacy = try JSONCoding.encoder(.pretty).encode(old)
        try legacy.write(to: URL(fileURLWithPath: dir.appending("state/experiments.json")))
        let store = try Self.store(dir)
        #expect(try store.loadExperiments() == old)
        #expect(try Self.bytes(store.experimentsPath) == legacy)  // reading changes nothing
        #expect(!FileManager.default.fileExists(atPath: store.journalPath))
        store.save(changed: [Self.experiment("now", .succeeded, version: 2)])
        store.synchronize()
        let snapshot = try JSONCoding.decoder().decode(ExperimentJournal.Snapshot.self, from: Self.bytes(store.experimentsPath))
        #expect(snapshot.generation == 1 && snapshot.experiments == old)
        #expect(try Self.lines(store).compactMap(\.experiment) == [Self.experiment("now", .succeeded, version: 2)])
        #expect(try Self.store(dir).loadExperiments() == [old[0], Self.experiment("now", .succeeded, version: 2), old[2]])
    }

    @Test func theJournalIsFoldedIntoASnapshotOnceItOutgrowsTheState() throws {
        let dir = try TemporaryDirectory(prefix: "swiftfl-journal")
        var journal = ExperimentJournal(snapshotPath: dir.appending("experiments.json"), journalPath: dir.appending("experiments.journal"))
        _ = try journal.load()
        try journal.record([Self.experiment("a"), Self.experiment("b")])
        #expect(journal.compactions == 1 && !journal.compactionDue)  // the first save starts the journal
        // Many changes of one experiment: more lines than 4 per experiment plus the minimum.
        let limit = ExperimentJournal.linesPerExperiment * 2 + ExperimentJournal.minimumLines
        let changes = (0..<limit - 2).map { Self.experiment("a", .running, version: UInt64($0 + 2)) }
        try journal.record(changes)
        #expect(journal.journalLines == limit && !journal.compactionDue)
        try journal.record([Self.experiment("b", .running, version: 2)])
        #expect(journal.compactionDue)
        try journal.compact()
        #expect(journal.journalLines == 0 && !journal.compactionDue && journal.generation == 2)
        var reread = ExperimentJournal(snapshotPath: journal.snapshotPath, journalPath: journal.journalPath)
        #expect(try reread.load() == [changes.last!, Self.experiment("b", .running, version: 2)])
    }

    /// A save that is written but whose compaction fails keeps its record, reports the failure, and
    /// the compaction alone is retried until it succeeds.
    @Test func aCompactionThatFailsIsReportedAndRetriedWithoutLosingTheSave() throws {
        let dir = try TemporaryDirectory(prefix: "swiftfl-journal")
        let store = try Self.store(dir)
        let changes = Mutex<[String?]>([])
        let changed = DispatchSemaphore(value: 0)
        store.onProblemChange { problem in
            changes.withLock { $0.append(problem) }
            changed.signal()
        }
        store.save(changed: [Self.experiment("a")])
        store.synchronize()
        #expect(store.written.compactions == 1)
        // The snapshot's place taken (by something a rename cannot replace), then a record big enough
        // to make a compaction due at once (over 4 MiB in a journal after a snapshot of one record).
        try FileManager.default.removeItem(atPath: store.experimentsPath)
        try FileManager.default.createDirectory(atPath: "\(store.experimentsPath)/in-the-way", withIntermediateDirectories: true)
        var big = Self.experiment("b")
        big.reason = String(repeating: "x", count: 5 << 20)
        store.save(changed: [big])
        #expect(changed.wait(timeout: .now() + 10) == .success, "no problem reported")
        #expect(store.problem?.contains("experiments.json") == true, "\(String(describing: store.problem))")
        // The save itself is in the journal already.
        #expect(try Self.lines(store).compactMap(\.experiment?.name) == ["a", "b"])
        try FileManager.default.removeItem(atPath: store.experimentsPath)
        #expect(changed.wait(timeout: .now() + 30) == .success, "the compaction was not retried")
        #expect(store.problem == nil && store.written.compactions == 2)
        #expect(changes.withLock { $0.count == 2 && $0[0] != nil && $0[1] == nil })
        #expect(try Self.lines(store).map(\.follows) == [2])
        #expect(try Self.store(dir).loadExperiments() == [Self.experiment("a"), big])
    }
}
