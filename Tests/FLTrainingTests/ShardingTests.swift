import FLTraining
import Testing

@Suite struct ShardingTests {
    static let labels = ShippedData.digits.labels

    func checkPartition(_ sharding: Sharding, labels: [Int32] = labels, classCount: Int = 10) throws -> [[Int]] {
        let shardOf = try sharding.assignments(labels: labels, classCount: classCount)
        #expect(shardOf.count == labels.count)
        #expect(shardOf.allSatisfy { $0 >= 0 && $0 < sharding.count })
        #expect(try sharding.assignments(labels: labels, classCount: classCount) == shardOf)
        var rows = [[Int]](repeating: [], count: sharding.count)
        for (r, k) in shardOf.enumerated() { rows[k].append(r) }
        // What each site computes on its own is its part of the same partition.
        for k in 0..<sharding.count { #expect(try sharding.rows(ofShard: k, labels: labels, classCount: classCount) == rows[k]) }
        #expect(rows.allSatisfy { !$0.isEmpty })
        return rows
    }

    func classCounts(_ rows: [Int]) -> [Int] {
        var counts = [Int](repeating: 0, count: 10)
        for r in rows { counts[Int(Self.labels[r])] += 1 }
        return counts
    }

    @Test func iidShardsAreDisjointCompleteBalancedAndDeterministic() throws {
        let sharding = Sharding.iid(count: 4, seed: 5)
        let rows = try checkPartition(sharding)
        #expect(rows.map(\.count).sorted() == [449, 449, 449, 450])
        let other = try Sharding.iid(count: 4, seed: 6).assignments(labels: Self.labels, classCount: 10)
        #expect(other != (try sharding.assignments(labels: Self.labels, classCount: 10)))
        let shards = try sharding.shards(of: ShippedData.digits)
        #expect(shards.map(\.count) == rows.map(\.count))
        #expect(try sharding.shard(2, of: ShippedData.digits) == shards[2])
    }

    @Test func smallAlphaDirichletIsVisiblySkewed() throws {
        let iid = try checkPartition(.iid(count: 5, seed: 1))
        let skewed = try checkPartition(.dirichlet(count: 5, alpha: 0.1, seed: 1))
        let iidEntropy = iid.map { entropy(classCounts($0)) }
        let skewedEntropy = skewed.map { entropy(classCounts($0)) }
        // IID shards are close to the uniform 10-class entropy ln 10 ≈ 2.30; skewed ones far below it.
        #expect(iidEntropy.allSatisfy { $0 > 2.2 })
        #expect(skewedEntropy.reduce(0, +) / 5 < 1.5)
        #expect(skewedEntropy.max()! < iidEntropy.min()!)
        // Large alpha approaches IID.
        let near = try checkPartition(.dirichlet(count: 5, alpha: 1000, seed: 1))
        #expect(near.map { entropy(classCounts($0)) }.allSatisfy { $0 > 2.2 })
    }

    @Test func everyShardIsNonEmptyEvenWhenDirichletWouldStarveSome() throws {
        // 40 rows of 2 classes over 20 shards with alpha 0.01: the draws give almost everything to one or two
        // shards; the reserved rows still give every shard at least `minimumSize`.
        let labels = (0..<40).map { Int32($0 % 2) }
        for seed in UInt64(0)..<20 {
            let rows = try checkPartition(.dirichlet(count: 20, alpha: 0.01, seed: seed), labels: labels, classCount: 2)
            #expect(rows.map(\.count).min()! >= 1)
        }
        let rows = try checkPartition(.dirichlet(count: 4, alpha: 0.01, seed: 3, minimumSize: 10), labels: labels, classCount: 2)
        #expect(rows.map(\.count).min()! >= 10)
    }

    @Test func invalidParametersAreReported() {
        let labels: [Int32] = [0, 1, 0]
        #expect(throws: ShardingError.self) { try Sharding.iid(count: 4, seed: 0).assignments(labels: labels, classCount: 2) }
        #expect(throws: ShardingError.self) { try Sharding.iid(count: 0, seed: 0).assignments(labels: labels, classCount: 2) }
        #expect(throws: ShardingError.self) { try Sharding.dirichlet(count: 2, alpha: 0, seed: 0).assignments(labels: labels, classCount: 2) }
        #expect(throws: ShardingError.self) { try Sharding.dirichlet(count: 2, alpha: 1, seed: 0, minimumSize: 2).assignments(labels: labels, classCount: 2) }
        #expect(throws: ShardingError.self) { try Sharding.iid(count: 2, seed: 0).rows(ofShard: 2, labels: labels, classCount: 2) }
    }
}
