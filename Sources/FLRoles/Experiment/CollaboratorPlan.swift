import FLCore

/// The collaborators' part of the plan.
public struct CollaboratorPlan: Sendable, Hashable {
    public var longPollSeconds: Double
    public var reconnectWindow: Double

    init(_ plan: Plan) throws {
        longPollSeconds = try PlanCheck.positive(plan, "collaborator.settings.long_poll_seconds", default: 30)
        reconnectWindow = try PlanCheck.positive(plan, "collaborator.settings.reconnect_window", default: 300)
    }
}
