import Foundation
import FLCore
import FLWire

/// Moments a Director reports as it runs: logged, and written as JSON lines on standard output by
/// `fx director start --events` (what tests and scripts wait on instead of sleeping).
public enum DirectorEvent: Sendable, Equatable {
    case listening(port: Int)
    /// The dashboard (`dashboard.listen`) serves on `port`.
    case dashboardListening(port: Int)
    case envoyRegistered(envoy: String, shard: ShardDescriptor)
    case envoyRefused(envoy: String, reason: String)
    case envoyOnline(envoy: String)
    case envoyOffline(envoy: String)
    case experimentQueued(experiment: String, submittedBy: String, position: Int)
    case experimentOffered(experiment: String, envoys: [String])
    case siteUpdated(experiment: String, envoy: String, state: SiteInfo.State, reason: String)
    case experimentStarted(experiment: String, launch: Int, port: Int, collaborators: [String])
    case roundStarted(experiment: String, round: Int)
    case roundClosed(experiment: String, round: RoundInfo)
    case experimentFinished(experiment: String, status: ExperimentStatus, reason: String)
    /// A request the sender's certificate does not entitle it to, or about something not its own.
    case requestRefused(peer: String, role: String, request: String, reason: String)
    /// The Director could not write its state (it retries); `problem` is empty once a write succeeds again.
    case stateUnsaved(problem: String)

    private struct Record: Codable {
        var event: String
        var port: Int?
        var envoy: String?
        var envoys: [String]?
        var experiment: String?
        var sample_shape: [Int]?
        var target_shape: [Int]?
        var reason: String?
        var submitted_by: String?
        var position: Int?
        var state: String?
        var launch: Int?
        var collaborators: [String]?
        var round: Int?
        var final_validation: Bool?
        var metrics: [String: Double]?
        var status: String?
        var peer: String?
        var role: String?
        var request: String?
    }

    /// The event as one line of JSON (no newline).
    public var jsonLine: String {
        var r: Record
        switch self {
        case let .listening(port): r = Record(event: "listening", port: port)
        case let .dashboardListening(port): r = Record(event: "dashboard_listening", port: port)
        case let .envoyRegistered(envoy, shard):
            r = Record(event: "envoy_registered", envoy: envoy, sample_shape: shard.sampleShape, target_shape: shard.targetShape)
        case let .envoyRefused(envoy, reason): r = Record(event: "envoy_refused", envoy: envoy, reason: reason)
        case let .envoyOnline(envoy): r = Record(event: "envoy_online", envoy: envoy)
        case let .envoyOffline(envoy): r = Record(event: "envoy_offline", envoy: envoy)
        case let .experimentQueued(experiment, by, position):
            r = Record(event: "experiment_queued", experiment: experiment, submitted_by: by, position: position)
        case let .experimentOffered(experiment, envoys): r = Record(event: "experiment_offered", envoys: envoys, experiment: experiment)
        case let .siteUpdated(experiment, envoy, state, reason):
            r = Record(event: "site_updated", envoy: envoy, experiment: experiment, reason: reason, state: state.rawValue)
        case let .experimentStarted(experiment, launch, port, collaborators):
            r = Record(event: "experiment_started", port: port, experiment: experiment, launch: launch, collaborators: collaborators)
        case let .roundStarted(experiment, round): r = Record(event: "round_started", experiment: experiment, round: round)
        case let .roundClosed(experiment, info):
            r = Record(event: "round_closed", experiment: experiment, round: info.round, final_validation: info.finalValidation, metrics: info.metrics)
        case let .experimentFinished(experiment, status, reason):
            r = Record(event: "experiment_finished", experiment: experiment, reason: reason, status: status.rawValue)
        case let .requestRefused(peer, role, request, reason):
            r = Record(event: "request_refused", reason: reason, peer: peer, role: role, request: request)
        case let .stateUnsaved(problem):
            r = Record(event: problem.isEmpty ? "state_saved" : "state_unsaved", reason: problem)
        }
        return (try? JSONCoding.line(r)) ?? "{\"event\":\"unencodable\"}"
    }

    /// A line for the log.
    public var logLine: String {
        switch self {
        case let .listening(port): "listening on port \(port)"
        case let .dashboardListening(port): "dashboard on port \(port)"
        case let .envoyRegistered(envoy, shard):
            "envoy '\(envoy)' registered: samples \(ShardDescriptor.text(shard.sampleShape)), targets \(ShardDescriptor.text(shard.targetShape))"
        case let .envoyRefused(envoy, reason): "refused envoy '\(envoy)': \(reason)"
        case let .envoyOnline(envoy): "envoy '\(envoy)' is online"
        case let .envoyOffline(envoy): "envoy '\(envoy)' is offline"
        case let .experimentQueued(experiment, by, position): "experiment '\(experiment)' submitted by '\(by)', queued at position \(position)"
        case let .experimentOffered(experiment, envoys): "experiment '\(experiment)' offered to \(envoys.joined(separator: ", "))"
        case let .siteUpdated(experiment, envoy, state, reason):
            "experiment '\(experiment)' at '\(envoy)': \(state.rawValue)\(reason.isEmpty ? "" : " (\(reason))")"
        case let .experimentStarted(experiment, launch, port, collaborators):
            "experiment '\(experiment)' started (aggregator launch \(launch), port \(port)) with \(collaborators.joined(separator: ", "))"
        case let .roundStarted(experiment, round): "experiment '\(experiment)': round \(round + 1) started"
        case let .roundClosed(experiment, info):
            "experiment '\(experiment)': \(info.finalValidation ? "final validation" : "round \(info.round + 1)") closed: "
                + info.metrics.keys.sorted().map { "\($0)=\(String(format: "%.4f", info.metrics[$0]!))" }.joined(separator: " ")
        case let .experimentFinished(experiment, status, reason): "experiment '\(experiment)' \(status.rawValue): \(reason)"
        case let .requestRefused(peer, role, request, reason): "refused \(request) from '\(peer)' (\(role)): \(reason)"
        case let .stateUnsaved(problem):
            problem.isEmpty ? "the Director's state is saved again" : "cannot save the Director's state (retrying): \(problem)"
        }
    }
}
