import Testing
import FLRoles

@Suite struct TaskAssignerTests {
    static let sites = (1...10).map { "site_\($0)" }
    let assigner = TaskAssigner(groups: [TaskGroup(name: "all", tasks: ["train"])], collaborators: sites, seed: 7)

    @Test func samplingKeepsTheRoundedUpShareAndIsReproducible() {
        for round in 0..<20 {
            let chosen = assigner.sample(Self.sites, fraction: 0.25, round: round)
            #expect(chosen.count == 3)  // ceil(2.5)
            #expect(chosen.isSubset(of: Self.sites))
            // Another order of the same names, the same round and seed: the same choice (a resumed run).
            #expect(assigner.sample(Self.sites.reversed(), fraction: 0.25, round: round) == chosen)
        }
        #expect(assigner.sample(Self.sites, fraction: 0.01, round: 0).count == 1)
        #expect(assigner.sample(Self.sites, fraction: 1, round: 0) == Set(Self.sites))
        #expect(assigner.sample([], fraction: 0.5, round: 0).isEmpty)
    }

    @Test func samplingChangesWithTheRoundAndReachesEverySite() {
        let choices = (0..<40).map { assigner.sample(Self.sites, fraction: 0.3, round: $0) }
        #expect(Set(choices).count > 10, "the same few sites every round")
        var counts: [String: Int] = [:]
        for choice in choices { for site in choice { counts[site, default: 0] += 1 } }
        // 40 rounds × 3 of 10: each site about 12 times; none left out, none always in.
        #expect(counts.count == 10 && counts.values.allSatisfy { $0 >= 4 && $0 <= 24 }, "\(counts)")
        // Another seed, another choice.
        let other = TaskAssigner(groups: assigner.groups, collaborators: Self.sites, seed: 8)
        #expect((0..<40).map { other.sample(Self.sites, fraction: 0.3, round: $0) } != choices)
    }
}
