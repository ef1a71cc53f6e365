import FLTraining
import Foundation
import Testing

@Suite struct StandardizerTests {
    @Test func validationIsScaledWithTrainingStatisticsOnly() {
        // Feature 0 varies, feature 1 is constant in the training rows.
        let train = Dataset(features: [1, 5, 3, 5, 8, 5], labels: [0, 1, 0], featureNames: ["a", "b"], classCount: 2)
        let validation = Dataset(features: [100, 7, -4, 5], labels: [1, 0], featureNames: ["a", "b"], classCount: 2)
        let s = Standardizer(fitting: train)
        let mean = (1.0 + 3 + 8) / 3
        let std = (([1.0, 3, 8].map { ($0 - mean) * ($0 - mean) }.reduce(0, +)) / 3).squareRoot()
        #expect(abs(Double(s.mean[0]) - mean) < 1e-6)
        #expect(abs(Double(s.scale[0]) - std) < 1e-6)
        #expect(s.mean[1] == 5 && s.scale[1] == 1)

        let v = s.transform(validation)
        #expect(abs(Double(v.features[0]) - (100 - mean) / std) < 1e-5)
        #expect(abs(Double(v.features[2]) - (-4 - mean) / std) < 1e-5)
        #expect(v.features[1] == 2 && v.features[3] == 0)
        #expect(v.labels == validation.labels)

        // Standardised training rows have mean 0 and standard deviation 1.
        let t = s.transform(train)
        let column = [t.features[0], t.features[2], t.features[4]].map(Double.init)
        #expect(abs(column.reduce(0, +)) < 1e-5)
        #expect(abs(column.map { $0 * $0 }.reduce(0, +) / 3 - 1) < 1e-5)
    }

    @Test func localSplitFitsOnItsTrainingPartOnly() {
        let data = ShippedData.breastCancer
        let split = LocalSplit(data, validationFraction: 0.25, seed: 3)
        let (train, validation) = data.trainValidation(validationFraction: 0.25, seed: 3)
        let expected = Standardizer(fitting: train)
        #expect(split.standardizer == expected)
        #expect(split.standardizer != Standardizer(fitting: data))
        #expect(split.validation == expected.transform(validation))
        #expect(split.train == expected.transform(train))
    }

    @Test func sharedStatisticsAddUpToThoseOfTheUnion() {
        let data = ShippedData.breastCancer
        let shards = try! Sharding.iid(count: 3, seed: 1).shards(of: data)
        let summed = shards.map(FeatureStatistics.init).reduce(FeatureStatistics(featureCount: 30), +)
        #expect(summed.count == data.count)
        let whole = Standardizer(fitting: data), combined = summed.standardizer
        for j in 0..<30 {
            #expect(abs(whole.mean[j] - combined.mean[j]) <= 1e-5 * max(1, abs(whole.mean[j])))
            #expect(abs(whole.scale[j] - combined.scale[j]) <= 1e-5 * max(1, whole.scale[j]))
        }
        let split = LocalSplit(train: shards[0], validation: shards[1], standardization: .shared(combined))
        #expect(split.train == combined.transform(shards[0]))
        #expect(LocalSplit(train: shards[0], validation: shards[1], standardization: .none).train == shards[0])
    }
}
