import FLCore

/// Decides which collaborator runs which tasks in each round (OpenFL's grouped assigner).
///
/// With one group every collaborator runs its tasks. With several, the collaborators are put in a
/// fresh pseudo-random order each round — derived from the seed and the round, so a resumed
/// experiment assigns exactly as the interrupted one did — and cut into groups by percentage.
public struct TaskAssigner: Sendable {
    public let groups: [TaskGroup]
    public let collaborators: [String]
    public let seed: UInt64

    public init(groups: [TaskGroup], collaborators: [String], seed: UInt64) {
        self.groups = groups
        self.collaborators = collaborators
        self.seed = seed
    }

    /// Collaborator → tasks for `round`. Collaborators in no group (rounding) get no tasks.
    public func assignments(round: Int) -> [String: [String]] {
        if groups.count == 1 {
            return Dictionary(uniqueKeysWithValues: collaborators.map { ($0, groups[0].tasks) })
        }
        let order = collaborators.sorted {
            (TaskAssigner.mix(seed, UInt64(round), $0), $0) < (TaskAssigner.mix(seed, UInt64(round), $1), $1)
        }
        var result: [String: [String]] = [:]
        var start = 0
        var cumulative = 0.0
        for (i, group) in groups.enumerated() {
            cumulative += group.percentage
            let end = i == groups.count - 1 ? order.count : min(order.count, Int((cumulative * Double(order.count)).rounded()))
            for name in order[start..<max(start, end)] { result[name] = group.tasks }
            start = max(start, end)
        }
        return result
    }

    /// Client sampling: `ceil(fraction × n)` of `available` (at least one), the same for the same
    /// seed, round and names, so a resumed experiment samples as the interrupted one did. The order
    /// is drawn independently of the groups' (another stream of the same seed).
    public func sample(_ available: [String], fraction: Double, round: Int) -> Set<String> {
        guard fraction < 1, !available.isEmpty else { return Set(available) }
        let keep = max(1, Int((fraction * Double(available.count)).rounded(.up)))
        let stream = seed ^ 0x5341_4d50_4c45_5f5f  // "SAMPLE__": not the grouping's order
        let order = available.sorted {
            (TaskAssigner.mix(stream, UInt64(round), $0), $0) < (TaskAssigner.mix(stream, UInt64(round), $1), $1)
        }
        return Set(order.prefix(keep))
    }

    /// A well-mixed 64-bit value from the seed, the round and a name (FNV-1a of the name, mixed with SplitMix64).
    static func mix(_ seed: UInt64, _ round: UInt64, _ name: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return SplitMix64.mix(SplitMix64.mix(h ^ seed) &+ round)
    }
}
