import Foundation
import FLWire

/// Everything one dashboard page or `/metrics` scrape shows, copied from the Director's state under
/// its lock in one go; rendering happens afterwards, with no lock held.
public struct DashboardSnapshot: Sendable {
    public var envoys: [EnvoyInfo]
    /// Every experiment in submission order.
    public var experiments: [ExperimentInfo]
    /// Each Envoy's heartbeats over the last hour, oldest first.
    public var history: [String: [DashboardRecorder.Sample]]
    public var bytesReceived: Int
    public var bytesSent: Int
    public var updatesRejected: Int
    /// Seconds since 1970 when it was taken.
    public var takenAt: Double

    public init(envoys: [EnvoyInfo], experiments: [ExperimentInfo], history: [String: [DashboardRecorder.Sample]] = [:],
                bytesReceived: Int = 0, bytesSent: Int = 0, updatesRejected: Int = 0, takenAt: Double = Date().timeIntervalSince1970) {
        self.envoys = envoys
        self.experiments = experiments
        self.history = history
        self.bytesReceived = bytesReceived
        self.bytesSent = bytesSent
        self.updatesRejected = updatesRejected
        self.takenAt = takenAt
    }

    /// The experiments waiting, in queue order.
    public var queue: [ExperimentInfo] { experiments.filter { $0.status == .queued }.sorted { $0.queuePosition < $1.queuePosition } }
}
