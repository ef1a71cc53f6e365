import FLCore
import Testing

@Suite struct SmallCellSuppressionTests {
    @Test func binsAtOrAboveTheMinimumAreShown() {
        let (bins, withheld) = SmallCellSuppression.suppress([0, 10, 20, 0], minimumCount: 10)
        #expect(bins == [0, 10, 20, 0])
        #expect(withheld.isEmpty)
    }

    @Test func aSmallBinIsWithheldWithAnotherSoTheTotalHidesIt() {
        // The bin of 1 is withheld; alone, count − shown bins would give it away, so the smallest
        // other non-empty bin goes too, until the withheld bins hold at least k rows.
        let (bins, withheld) = SmallCellSuppression.suppress([1, 30, 12, 0, 40], minimumCount: 10)
        #expect(withheld == [0, 2])
        #expect(bins == [0, 30, 0, 0, 40])
    }

    @Test func smallBinsTogetherAboveTheMinimumNeedNoMore() {
        let (bins, withheld) = SmallCellSuppression.suppress([6, 30, 7, 0, 40], minimumCount: 10)
        #expect(withheld == [0, 2])
        #expect(bins == [0, 30, 0, 0, 40])
    }

    @Test func withheldBinsAlwaysHoldAtLeastTheMinimum() {
        for seed in 0..<200 {
            let raw = (0..<8).map { ($0 * 37 + seed * 11) % 13 }
            guard raw.reduce(0, +) >= 10 else { continue }
            let (bins, withheld) = SmallCellSuppression.suppress(raw, minimumCount: 10)
            let hidden = withheld.reduce(0) { $0 + raw[$1] }
            #expect(withheld.isEmpty || (hidden >= 10 && withheld.count >= 2), "\(raw)")
            #expect(bins.allSatisfy { $0 == 0 || $0 >= 10 }, "\(raw)")
        }
    }
}
