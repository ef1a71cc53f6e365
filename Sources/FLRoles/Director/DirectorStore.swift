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

/// The Director's state directory. Everything in it is written atomically (AtomicFile), so a
/// crash at any moment leaves the previous state or the next one:
///
/// ```
/// envoys.json                         the Envoy registry (name, shard, first and last registration)
/// experiments.json                    every experiment in submission order: the queue and the history
///                                     (status, rounds, metrics, sites, reasons)
/// experiments/<name>/archive.tar      the submitted workspace, as the data scientist exported it
/// experiments/<name>/workspace/       the workspace the aggregator runs in (plan, checkpoints, logs)
/// experiments/<name>/aggregator-<n>.stderr   the n-th aggregator's diagnostics
/// experiments/<name>/best.safetensors, last.safetensors, metrics.jsonl   copied when it ends
/// incoming/                           uploads being received (removed on start)
/// analytics/<id>.json                 federated analytics results, each written once when complete
/// ```
///
/// Writes are coalesced on one serial queue: callers hand over a snapshot (cheap: value types) and
/// return at once; the queue writes the newest snapshot, so a burst of changes costs one write.
/// A write that fails (disk full, permissions) keeps its snapshot and is retried with backoff until
/// one succeeds; meanwhile `problem` says what is wrong, so users are told (`fx experiment status`).
public final class DirectorStore: Sendable {
    public let root: String
    private let logger: Logger
    private let queue = DispatchQueue(label: "swiftfl.director.store")
    private struct Pending {
        var envoys: [EnvoyRecord]?
        var experiments: [ExperimentInfo]?
        var problem: String?
        var retryDelay = DirectorStore.firstRetryDelay
        var retryScheduled = false
        var onProblemChange: (@Sendable (String?) -> Void)?
    }
    private let pending = Mutex(Pending())
    static let firstRetryDelay = 0.25
    static let longestRetryDelay = 30.0

    public init(root: String, logger: Logger) throws {
        self.root = root
        self.logger = logger
        for dir in [root, experimentsDirectory, incomingDirectory] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        // Half-received uploads from before a crash are of no use.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: incomingDirectory)) ?? [] {
            try? FileManager.default.removeItem(atPath: "\(incomingDirectory)/\(name)")
        }
        // So are workspaces half unpacked (nothing is unpacked before the Director starts).
        ArchiveExtractor.removeLeftovers(inFoldersOf: experimentsDirectory)
    }

    public var envoysPath: String { "\(root)/envoys.json" }
    public var experimentsPath: String { "\(root)/experiments.json" }
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
    public func loadEnvoys() throws -> [EnvoyRecord] { try load([EnvoyRecord].self, from: envoysPath) ?? [] }

    /// Every experiment, in submission order; empty when there is none yet.
    public func loadExperiments() throws -> [ExperimentInfo] { try load([ExperimentInfo].self, from: experimentsPath) ?? [] }

    private func load<T: Decodable>(_ type: T.Type, from path: String) throws -> T? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            return try JSONCoding.decoder().decode(T.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw FileError(path: path, operation: "read the Director's state", reason: "\(error)")
        }
    }

    // MARK: Writing

    /// Schedules writing the registry (the newest snapshot wins).
    public func save(envoys: [EnvoyRecord]) {
        pending.withLock { $0.envoys = envoys }
        queue.async { [self] in flush() }
    }

    /// Schedules writing the experiments (the newest snapshot wins).
    public func save(experiments: [ExperimentInfo]) {
        pending.withLock { $0.experiments = experiments }
        queue.async { [self] in flush() }
    }

    /// Waits until every scheduled write has been tried once.
    public func synchronize() { queue.sync {} }

    private func flush() {
        let (envoys, experiments) = pending.withLock { p in
            defer { (p.envoys, p.experiments) = (nil, nil) }
            return (p.envoys, p.experiments)
        }
        var failure: String?
        if let envoys, let problem = write(envoys, to: envoysPath) {
            failure = problem
            pending.withLock { p in if p.envoys == nil { p.envoys = envoys } }
        }
        if let experiments, let problem = write(experiments, to: experimentsPath) {
            failure = failure ?? problem
            pending.withLock { p in if p.experiments == nil { p.experiments = experiments } }
        }
        guard envoys != nil || experiments != nil else { return }
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
