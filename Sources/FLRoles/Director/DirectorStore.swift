import Foundation
import Synchronization
import FLCore
import FLWire
import FLArchive

/// What the Director remembers about an Envoy across restarts (heartbeats are not written: they
/// change every second and mean nothing after a restart).
public struct EnvoyRecord: Sendable, Hashable, Codable {
    public var name: String
    public var shard: ShardDescriptor
    /// Seconds since 1970.
    public var registeredAt: Double
    /// When it last registered (seconds since 1970).
    public var lastRegistration: Double

    public init(name: String, shard: ShardDescriptor, registeredAt: Double, lastRegistration: Double) {
        self.name = name
        self.shard = shard
        self.registeredAt = registeredAt
        self.lastRegistration = lastRegistration
    }
}

/// The Director's state directory. Every file in it is written so that a crash at any moment leaves
/// the previous state or the next one (whole files atomically with AtomicFile, the journal by
/// fsynced appends whose torn end is dropped; `ExperimentJournal` says how each step is safe):
///
/// ```
/// envoys.json                         the Envoy registry (name, shard, first and last registration)
/// experiments.json                    snapshot of every experiment in submission order, the queue and
///                                     the history (status, rounds, metrics, sites, reasons):
///                                     {"generation": g, "experiments": [...]}; a bare array (written
///                                     before the journal) is generation 0, rewritten at the first compaction
/// experiments.journal                 the records changed since: {"follows": g}, then one line per
///                                     changed experiment, the whole record; folded into a new
///                                     snapshot once it holds over 4 lines per experiment (+1,000)
///                                     or over 4 snapshots' bytes (+4 MiB)
/// experiments/<name>/archive.tar      the submitted workspace, as the data scientist exported it
/// experiments/<name>/workspace/       the workspace the aggregator runs in (plan, checkpoints, logs)
/// experiments/<name>/aggregator-<n>.stderr   the n-th aggregator's diagnostics
/// experiments/<name>/best.safetensors, last.safetensors, metrics.jsonl   copied when it ends
/// incoming/                           uploads being received (removed on start)
/// analytics/<id>.json                 federated analytics results, each written once when complete
/// ```
///
/// Writes are coalesced on one serial queue: callers hand over what changed (the changed experiments'
/// records, the registry) and return at once; the queue writes the newest record of each, so a burst
/// of changes costs one write, and a change costs its own records however many experiments exist.
/// A write that fails (disk full, permissions) keeps what it had to write and is retried with backoff
/// until one succeeds; meanwhile `problem` says what is wrong, so users are told (`fx experiment status`).
public final class DirectorStore: Sendable {
    public let root: String
    private let logger: Logger
    private let queue = DispatchQueue(label: "swiftfl.director.store")
    private struct Pending {
        /// Envoys' records changed since the last write, by name (the newest wins).
        var envoys: [String: EnvoyRecord] = [:]
        var experiments = ExperimentChanges()
        /// A compaction failed after its save was written: retried even with nothing else to write.
        var compactionFailed = false
        var problem: String?
        var retryDelay = DirectorStore.firstRetryDelay
        var retryScheduled = false
        var onProblemChange: (@Sendable (String?) -> Void)?
    }
    private let pending = Mutex(Pending())
    /// The whole registry as last loaded or saved, by name: written out (sorted) when a record
    /// changes, so a registration costs the Director's lock one record, not a copy of every Envoy's.
    private let registry = Mutex<[String: EnvoyRecord]>([:])
    /// The experiments' files; used on `queue` (and by `loadExperiments` before saving starts).
    private let journal: Mutex<ExperimentJournal>
    static let firstRetryDelay = 0.25
    static let longestRetryDelay = 30.0

    public init(root: String, logger: Logger) throws {
        self.root = root
        self.logger = logger
        journal = Mutex(ExperimentJournal(snapshotPath: "\(root)/experiments.json", journalPath: "\(root)/experiments.journal"))
        for dir in [root, experimentsDirectory, incomingDirectory] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        // Half-received uploads from before a crash are of no use.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: incomingDirectory)) ?? [] {
            try? FileManager.default.removeItem(atPath: "\(incomingDirectory)/\(name)")
        }
        // So are workspaces half unpacked (nothing is unpacked before the Director starts).
        ArchiveExtractor.removeLeftovers(inFoldersOf: experimentsDirectory)
        // And so are the temporary files of whole-file writes a crash cut short (AtomicFile's names).
        for name in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] where name.contains(".tmp.") {
            try? FileManager.default.removeItem(atPath: "\(root)/\(name)")
        }
    }

    public var envoysPath: String { "\(root)/envoys.json" }
    /// The experiments' snapshot.
    public var experimentsPath: String { "\(root)/experiments.json" }
    /// The experiments' journal: the records changed since the snapshot.
    public var journalPath: String { "\(root)/experiments.journal" }
    public var experimentsDirectory: String { "\(root)/experiments" }
    public var incomingDirectory: String { "\(root)/incoming" }

    /// The folder of one experiment.
    public func directory(of experiment: String) -> String { "\(experimentsDirectory)/\(experiment)" }
    public func archivePath(of experiment: String) -> String { "\(directory(of: experiment))/archive.tar" }
    public func workspace(of experiment: String) -> Workspace { Workspace(root: "\(directory(of: experiment))/workspace") }
    public func modelPath(of experiment: String, _ which: ModelChoice) -> String { "\(directory(of: experiment))/\(which).safetensors" }
    public func metricsPath(of experiment: String) -> String { "\(directory(of: experiment))/metrics.jsonl" }
    /// The participants and their registered sample counts, handed to the experiment's aggregator.
    public func participantsPath(of experiment: String) -> String { "\(directory(of: experiment))/participants.json" }

    /// Why the latest state could not be written (and since when), or nil when everything is on disk.
    public var problem: String? { pending.withLock { $0.problem } }

    /// Calls `body` whenever `problem` changes (with nil once writes succeed again).
    public func onProblemChange(_ body: @escaping @Sendable (String?) -> Void) {
        pending.withLock { $0.onProblemChange = body }
    }

    // MARK: Reading

    /// The Envoy registry; empty when there is none yet.
    public func loadEnvoys() throws -> [EnvoyRecord] {
        let records = try load([EnvoyRecord].self, from: envoysPath) ?? []
        registry.withLock { table in for r in records { table[r.name] = r } }
        return records
    }

    /// Every experiment, in submission order (the snapshot with the journal replayed onto it); empty
    /// when there is none yet.
    public func loadExperiments() throws -> [ExperimentInfo] { try journal.withLock { try $0.load() } }

    private func load<T: Decodable>(_ type: T.Type, from path: String) throws -> T? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            return try JSONCoding.decoder().decode(T.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw FileError(path: path, operation: "read the Director's state", reason: "\(error)")
        }
    }

    // MARK: Writing

    /// Schedules writing these Envoys' records into the registry: each replaces the one of its name
    /// (the newest wins), the others stay as they are.
    public func save(envoys: [EnvoyRecord]) {
        guard !envoys.isEmpty else { return }
        pending.withLock { p in for r in envoys { p.envoys[r.name] = r } }
        queue.async { [self] in flush() }
    }

    /// Schedules writing these experiments' records: each replaces the one of its name, a new name is
    /// added after the others (in the order given). Of several saves of one name, the newest wins.
    public func save(changed experiments: [ExperimentInfo]) {
        guard !experiments.isEmpty else { return }
        pending.withLock { $0.experiments.add(experiments) }
        queue.async { [self] in flush() }
    }

    /// Folds the journal into a new snapshot now (the tests and the benchmark; saving does it when due).
    package func compact() throws {
        try queue.sync { try journal.withLock { try $0.compact() } }
    }

    /// Bytes written to the experiments' files so far, and the compactions done.
    package var written: (bytes: Int, compactions: Int) { journal.withLock { ($0.bytesWritten, $0.compactions) } }

    /// Waits until every scheduled write has been tried once.
    public func synchronize() { queue.sync {} }

    private func flush() {
        let (envoys, experiments, compaction) = pending.withLock { p in
            defer { (p.envoys, p.experiments, p.compactionFailed) = ([:], ExperimentChanges(), false) }
            return (p.envoys, p.experiments, p.compactionFailed)
        }
        guard !envoys.isEmpty || !experiments.isEmpty || compaction else { return }
        var failure: String?
        if !envoys.isEmpty {
            let all = registry.withLock { table in
                table.merge(envoys) { _, newer in newer }
                return table.values.sorted { $0.name < $1.name }
            }
            if let problem = write(all, to: envoysPath) {
                failure = problem
                // Kept for the retry unless a newer record of the same Envoy came meanwhile.
                pending.withLock { p in p.envoys.merge(envoys) { newer, _ in newer } }
            }
        }
        if let problem = write(experiments) { failure = failure ?? problem }
        report(failure)
    }

    /// Journals `changes` as one save, then compacts if that is due; returns what went wrong, or nil.
    /// What could not be written is kept for the retry.
    private func write(_ changes: ExperimentChanges) -> String? {
        do {
            try journal.withLock { try $0.record(changes.records) }
        } catch {
            pending.withLock { $0.experiments.putBack(changes) }
            return "\(error)"
        }
        do {
            // The save is on disk whatever happens here; only the compaction is retried.
            try journal.withLock { j in if j.compactionDue { try j.compact() } }
        } catch {
            pending.withLock { $0.compactionFailed = true }
            return "\(error)"
        }
        return nil
    }

    /// Records whether the latest writes failed: sets or clears `problem` (telling whoever asked),
    /// and schedules a retry with backoff after a failure.
    private func report(_ failure: String?) {
        let (changed, notify, retry): (Bool, (@Sendable (String?) -> Void)?, Double?) = pending.withLock { p in
            let before = p.problem
            if let failure {
                p.problem = before ?? "\(failure) (since \(ISO8601DateFormatter().string(from: Date())))"
                let delay = p.retryDelay
                p.retryDelay = min(DirectorStore.longestRetryDelay, delay * 2)
                let schedule = !p.retryScheduled
                p.retryScheduled = true
                return (before == nil, p.onProblemChange, schedule ? delay : nil)
            }
            p.problem = nil
            p.retryDelay = DirectorStore.firstRetryDelay
            return (before != nil, p.onProblemChange, nil)
        }
        if let retry {
            queue.asyncAfter(deadline: .now() + retry) { [self] in
                pending.withLock { $0.retryScheduled = false }
                flush()
            }
        }
        if changed {
            if let failure { logger.error("cannot write the Director's state (retrying with backoff): \(failure)") } else { logger.info("the Director's state is written again") }
            notify?(failure.map { _ in problem ?? "" })
        }
    }

    /// Writes `value` as JSON to `path` atomically; returns what went wrong, or nil.
    private func write<T: Encodable>(_ value: T, to path: String) -> String? {
        do {
            try AtomicFile.write(try JSONCoding.encoder(.pretty).encode(value), to: path)
            return nil
        } catch {
            return "\(error)"
        }
    }
}
