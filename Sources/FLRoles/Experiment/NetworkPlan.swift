import FLCore

/// Where the aggregator listens and how long peers wait for each other.
public struct NetworkPlan: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var aggregatorName: String
    public var handshakeTimeout: Double
    public var idleTimeout: Double

    init(_ plan: Plan) throws {
        let s = "network.settings"
        host = try plan.string("\(s).agg_addr", default: "127.0.0.1")
        port = try plan.int("\(s).agg_port", default: 50051)
        guard (0...65535).contains(port) else { throw PlanCheck.error(plan, "\(s).agg_port", "expected a port 0-65535, found \(port)") }
        aggregatorName = try plan.string("\(s).agg_name", default: "aggregator")
        handshakeTimeout = try PlanCheck.positive(plan, "\(s).handshake_timeout", default: 10)
        idleTimeout = try PlanCheck.positive(plan, "\(s).idle_timeout", default: 60)
    }
}
