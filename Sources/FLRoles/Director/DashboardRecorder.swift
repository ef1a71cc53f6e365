import Foundation
import Synchronization
import FLWire

/// What the dashboard shows that the Director's state does not keep: each Envoy's recent
/// heartbeats (a bounded ring, for the CPU and memory sparklines) and running totals for
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

    /// Samples kept per Envoy: an hour of heartbeats every 5 s (the default period).
    public static let samplesPerEnvoy = 720
    /// Envoys whose samples are kept; beyond it, new names are not recorded (an allow-list bounds them anyway).
    public static let maximumEnvoys = 10_000

    private let samples = Mutex<[String: [Sample]]>([:])
    private let received = Atomic<Int>(0)
    private let sent = Atomic<Int>(0)
    private let rejected = Atomic<Int>(0)

    public init() {}

    /// Adds a heartbeat of `envoy`, dropping its oldest once the ring is full.
    public func record(_ envoy: String, _ sample: Sample) {
        samples.withLock { all in
            guard all[envoy] != nil || all.count < Self.maximumEnvoys else { return }
            all[envoy, default: []].append(sample)
            if all[envoy]!.count > Self.samplesPerEnvoy { all[envoy]!.removeFirst(all[envoy]!.count - Self.samplesPerEnvoy) }
        }
    }

    /// Each Envoy's samples no older than `window` seconds before `now`, oldest first.
    public func history(window: Double = 3600, now: Double = Date().timeIntervalSince1970) -> [String: [Sample]] {
        samples.withLock { all in all.mapValues { $0.filter { $0.time >= now - window } } }
    }

    /// Workspace archives received (submissions), counted as they are accepted.
    public func addReceived(_ bytes: Int) { received.add(bytes, ordering: .relaxed) }
    /// Archives sent to Envoys and models sent to users, counted as each is handed to its connection.
    public func addSent(_ bytes: Int) { sent.add(bytes, ordering: .relaxed) }
    /// An update an aggregator reported it rejected.
    public func addRejectedUpdate() { rejected.add(1, ordering: .relaxed) }

    public var bytesReceived: Int { received.load(ordering: .relaxed) }
    public var bytesSent: Int { sent.load(ordering: .relaxed) }
    public var updatesRejected: Int { rejected.load(ordering: .relaxed) }
}
