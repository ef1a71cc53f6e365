import Foundation
import Synchronization
import FLWire

/// What the dashboard shows that the Director's state does not keep: each Envoy's recent
/// heartbeats (a bounded ring, for the CPU and memory sparklines) and a running total for
/// `/metrics`. Its own lock, never held together with the state's, and taken for a few
/// assignments only, so recording a heartbeat costs the Director next to nothing.
public final class DashboardRecorder: Sendable {
    /// One heartbeat's figures.
    public struct Sample: Sendable, Hashable {
        /// Seconds since 1970.
        public var time: Double
        public var cpuPercent: Double
        public var residentBytes: Int
        public var availableBytes: Int

        public init(time: Double, cpuPercent: Double, residentBytes: Int, availableBytes: Int) {
            self.time = time
            self.cpuPercent = cpuPercent
            self.residentBytes = residentBytes
            self.availableBytes = availableBytes
        }
    }

    /// Samples kept per Envoy: an hour, one sample per `sampleInterval` at most.
    public static let samplesPerEnvoy = 360
    /// Seconds between two samples kept of one Envoy: heartbeats in between are not recorded, so
    /// the memory an Envoy costs does not depend on its heartbeat period (10,000 Envoys: 115 MiB).
    public static let sampleInterval = 10.0
    /// Envoys whose samples are kept; beyond it, new names are not recorded (an allow-list bounds them anyway).
    public static let maximumEnvoys = 10_000

    /// One Envoy's samples: a fixed ring, so recording never moves the others.
    struct Ring: Sendable {
        var items: [Sample] = []
        /// Where the next sample goes once the ring is full (the oldest).
        var next = 0

        var newest: Sample? { items.isEmpty ? nil : items[(next + items.count - 1) % items.count] }
        /// Oldest first.
        var ordered: [Sample] { Array(items[next...] + items[..<next]) }

        mutating func add(_ sample: Sample, capacity: Int) {
            if items.count < capacity {
                items.append(sample)
            } else {
                items[next] = sample
                next = (next + 1) % capacity
            }
        }
    }

    private let samples = Mutex<[String: Ring]>([:])
    private let rejected = Atomic<Int>(0)

    public init() {}

    /// Adds a heartbeat of `envoy` unless one was kept less than `sampleInterval` before it; the
    /// oldest is dropped once the ring is full.
    public func record(_ envoy: String, _ sample: Sample) {
        samples.withLock { all in
            guard all[envoy] != nil || all.count < Self.maximumEnvoys else { return }
            if let newest = all[envoy]?.newest, sample.time - newest.time < Self.sampleInterval { return }
            all[envoy, default: Ring()].add(sample, capacity: Self.samplesPerEnvoy)
        }
    }

    /// Each Envoy's samples no older than `window` seconds before `now`, oldest first.
    public func history(window: Double = 3600, now: Double = Date().timeIntervalSince1970) -> [String: [Sample]] {
        samples.withLock { all in all.mapValues { $0.ordered.filter { $0.time >= now - window } } }
    }

    /// An update an aggregator reported it rejected.
    public func addRejectedUpdate() { rejected.add(1, ordering: .relaxed) }

    public var updatesRejected: Int { rejected.load(ordering: .relaxed) }
}
