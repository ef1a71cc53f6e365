import FLCore
import FLTraining
import Testing

@Suite struct StandardizerModelFileTests {
    @Test func preprocessTensorsRoundTripThroughAModel() throws {
        let s = Standardizer(mean: [1, -2, 3], scale: [0.5, 1, 4])
        let model = s.appendingPreprocessTensors(to: ModelState(layout: try ModelLayout([TensorSpec(name: "w", shape: [2])]), values: [7, 8]))
        #expect(model.layout.tensors.map(\.name) == ["w", "preprocess.mean", "preprocess.scale"])
        #expect(model.values == [7, 8, 1, -2, 3, 0.5, 1, 4])
        #expect(try Standardizer.fromPreprocessTensors(of: model, featureCount: 3) == s)
        // Appending again replaces them.
        let again = Standardizer(mean: [0, 0, 0], scale: [1, 1, 1]).appendingPreprocessTensors(to: model)
        #expect(again.layout.tensors.count == 3 && again.tensor("preprocess.scale") == [1, 1, 1])
        #expect(try Standardizer.fromPreprocessTensors(of: ModelState(zeros: try ModelLayout([TensorSpec(name: "w", shape: [2])])), featureCount: 3) == nil)
    }

    @Test func appliesToRowsAsToADataset() {
        let s = Standardizer(mean: [1, 2], scale: [2, 4])
        var rows: [Float] = [3, 2, 1, 10]
        s.apply(toRows: &rows)
        #expect(rows == [1, 0, 0, 2])
        #expect(rows == s.transform(Dataset(features: [3, 2, 1, 10], labels: [0, 0], featureNames: ["a", "b"], classCount: 1)).features)
    }

    @Test func refusesOneTensorWithoutTheOther() {
        #expect(throws: PreprocessTensorError(tensor: "preprocess.mean", reason: "is missing while preprocess.scale is there; a file carries both or neither")) {
            try Standardizer.fromPreprocessTensors(mean: nil, scale: ([1], [1]), featureCount: 1)
        }
        #expect(throws: PreprocessTensorError(tensor: "preprocess.mean", reason: "holds inf at element 0; means must be finite")) {
            try Standardizer.fromPreprocessTensors(mean: ([1], [.infinity]), scale: ([1], [1]), featureCount: 1)
        }
    }
}
