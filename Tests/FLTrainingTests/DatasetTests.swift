import FLTraining
import Testing

@Suite struct DatasetTests {
    @Test func subsetCopiesRowsInTheGivenOrder() {
        let d = Dataset(features: [0, 1, 10, 11, 20, 21], labels: [0, 1, 2], featureNames: ["a", "b"], classCount: 3)
        let s = d.subset([2, 0])
        #expect(s.features == [20, 21, 0, 1])
        #expect(s.labels == [2, 0])
        #expect(s.classCount == 3)
    }

    @Test(arguments: [true, false])
    func trainValidationIsADeterministicPartition(stratified: Bool) {
        let data = ShippedData.digits
        let (train, validation) = data.trainValidation(validationFraction: 0.2, seed: 9, stratified: stratified)
        let again = data.trainValidation(validationFraction: 0.2, seed: 9, stratified: stratified)
        #expect(again.train == train && again.validation == validation)
        #expect(data.trainValidation(validationFraction: 0.2, seed: 10, stratified: stratified).validation != validation)
        #expect(train.count + validation.count == data.count)
        #expect(abs(validation.count - 359) <= 5)
        // Every row ends up in exactly one part: compare the multisets of rows.
        func rows(_ d: Dataset) -> [[Float]] { (0..<d.count).map { Array(d.features[($0 * 64)..<(($0 + 1) * 64)]) + [Float(d.labels[$0])] } }
        let all = rows(data).map { $0.description }.sorted()
        #expect((rows(train) + rows(validation)).map { $0.description }.sorted() == all)
        if stratified {
            for (c, n) in data.classCounts.enumerated() {
                #expect(validation.classCounts[c] == Int((0.2 * Double(n)).rounded()))
            }
        }
    }
}
