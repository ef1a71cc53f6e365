import FLCore

/// One collaborator's entry in `plan/data.yaml`.
public struct ShardPlan: Sendable, Hashable {
    /// The data file, relative to the workspace (a site with its data elsewhere names it with `--data`).
    public var path: String
    /// Which part of a file shared by simulated sites is this site's (with the plan's split).
    public var shardIndex: Int?
    public var shardCount: Int?

    init(_ section: PlanSection) throws {
        path = try PlanCheck.containedPath(section, "path", default: nil)
        shardIndex = try section.intIfPresent("shard_index")
        shardCount = try section.intIfPresent("shard_count")
        if let i = shardIndex, i < 0 { throw PlanCheck.error(section, "shard_index", "expected a non-negative index, found \(i)") }
        if let c = shardCount, c < 1 { throw PlanCheck.error(section, "shard_count", "expected a positive count, found \(c)") }
    }
}
