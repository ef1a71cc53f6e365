import Foundation
import FLCore
import FLWire

extension AggregatorEvent {
    /// The flat JSON object an event is written as, one per line, on an aggregator's standard output
    /// when the Director runs it (`fx-aggregator --events`).
    struct Record: Codable {
        var event: String
        var port: Int?
        var round: Int?
        var attempt: Int?
        var collaborators: [String]?
        var final_validation: Bool?
        var reported: [String]?
        var missing: [String]?
        var metrics: [String: Double]?
        var duration: Double?
        var best: Bool?
        var collaborator: String?
        var reason: String?
        var succeeded: Bool?
        var rounds_completed: Int?
        var best_value: Double?
        var best_validation: Bool?
        var site_metrics: [String: [String: Double]]?
    }

    /// The event as one line of JSON (no newline).
    public var jsonLine: String {
        var r: Record
        switch self {
        case let .listening(port):
            r = Record(event: "listening", port: port)
        case let .roundStarted(round, attempt, collaborators, isFinal):
            r = Record(event: "round_started", round: round, attempt: attempt, collaborators: collaborators, final_validation: isFinal)
        case let .roundClosed(s), let .roundRecovered(s):
            let name = if case .roundClosed = self { "round_closed" } else { "round_recovered" }
            r = Record(event: name, round: s.round, attempt: s.attempt, final_validation: s.finalValidation, reported: s.reported,
                       missing: s.missing, metrics: s.metrics, duration: s.duration, best: s.best,
                       best_validation: s.bestValidation ? true : nil, site_metrics: s.sites.isEmpty ? nil : s.sites)
        case let .checkpointSaved(rounds):
            r = Record(event: "checkpoint_saved", rounds_completed: rounds)
        case let .updateRejected(collaborator, reason):
            r = Record(event: "update_rejected", collaborator: collaborator, reason: reason)
        case let .finished(o):
            r = Record(event: "finished", metrics: o.finalMetrics, reason: o.reason, succeeded: o.succeeded, rounds_completed: o.roundsCompleted,
                       best_value: o.bestValue)
        }
        return (try? JSONCoding.line(r)) ?? "{\"event\":\"unencodable\"}"
    }

    /// Reads an event from its JSON line; nil for lines that are not events (e.g. other output).
    public init?(jsonLine line: some StringProtocol) {
        guard let r = try? JSONCoding.decoder().decode(Record.self, from: Data(line.utf8)) else { return nil }
        switch r.event {
        case "listening":
            guard let port = r.port else { return nil }
            self = .listening(port: port)
        case "round_started":
            guard let round = r.round else { return nil }
            self = .roundStarted(round: round, attempt: r.attempt ?? 0, collaborators: r.collaborators ?? [], isFinalValidation: r.final_validation ?? false)
        case "round_closed", "round_recovered":
            guard let round = r.round else { return nil }
            let summary = RoundInfo(round: round, finalValidation: r.final_validation ?? false, attempt: r.attempt ?? 0,
                                    metrics: r.metrics ?? [:], reported: r.reported ?? [], missing: r.missing ?? [],
                                    duration: r.duration ?? 0, best: r.best ?? false, bestValidation: r.best_validation ?? false,
                                    sites: r.site_metrics ?? [:])
            self = r.event == "round_closed" ? .roundClosed(summary) : .roundRecovered(summary)
        case "checkpoint_saved":
            guard let rounds = r.rounds_completed else { return nil }
            self = .checkpointSaved(roundsCompleted: rounds)
        case "update_rejected":
            self = .updateRejected(collaborator: r.collaborator ?? "", reason: r.reason ?? "")
        case "finished":
            self = .finished(AggregatorOutcome(succeeded: r.succeeded ?? false, reason: r.reason ?? "", roundsCompleted: r.rounds_completed ?? 0,
                                               bestValue: r.best_value, finalMetrics: r.metrics ?? [:]))
        default:
            return nil
        }
    }
}

extension RoundInfo {
    /// A one-line account for a terminal: `round 3/10 done in 41 ms (3/3 reported): task/metric=… [best]`.
    public func progressLine(roundsToTrain: Int) -> String {
        let head = bestValidation ? "best model's validation" : finalValidation ? "final validation" : "round \(round + 1)/\(roundsToTrain)"
        let shown = metrics.keys.sorted().map { "\($0)=\(MetricFigure.text(metrics[$0]!))" }.joined(separator: " ")
        let who = "\(reported.count)/\(reported.count + missing.count) reported" + (missing.isEmpty ? "" : ", missing \(missing.joined(separator: ", "))")
        return "\(head) done in \(Int((duration * 1000).rounded())) ms (\(who)): \(shown)\(best ? " [best]" : "")"
    }
}
