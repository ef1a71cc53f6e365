import Foundation
import Synchronization
import FLCore
import FLWire

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
/// ```
///
/// Writes are coalesced on one serial queue: callers hand over a snapshot (cheap: value types) and
/// return at once; the queue writes the newest snapshot, so a burst of changes costs one write.
public final class DirectorStore: Sendable {
    public let root: String
    private let logger: Logger
    private let queue = DispatchQueue(label: "swiftfl.director.store")
    private let pending = Mutex<(envoys: [EnvoyRecord]?, experiments: [ExperimentInfo]?)>((nil, nil))

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

    // MARK: Reading

    /// The Envoy registry; empty when there is none yet.
    public func loadEnvoys() throws -> [EnvoyRecord] { try load([EnvoyRecord].self, from: envoysPath) ?? [] }

    /// Every experiment, in submission order; empty when there is none yet.
    public func loadExperiments() throws -> [ExperimentInfo] { try load([ExperimentInfo].self, from: experimentsPath) ?? [] }

    private func load<T: Decodable>(_ type: T.Type, from path: String) throws -> T? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            let decoder = JSONDecoder()
            decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            return try decoder.decode(T.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
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

    /// Waits until every scheduled write is on disk.
    public func synchronize() { queue.sync {} }

    private func flush() {
        let (envoys, experiments) = pending.withLock { p in
            defer { p = (nil, nil) }
            return p
        }
        if let envoys { write(envoys, to: envoysPath) }
        if let experiments { write(experiments, to: experimentsPath) }
    }

    private func write<T: Encodable>(_ value: T, to path: String) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do {
            try AtomicFile.write(try encoder.encode(value), to: path)
        } catch {
            logger.error("cannot write \(path): \(error)")
        }
    }
}
