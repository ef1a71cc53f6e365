import FLCore
import FLTraining
import Testing

@Suite struct NetworkArchitectureTests {
    @Test func parametersAreNamedAndShapedLikePyTorchLinearLayers() {
        let mlp = NetworkArchitecture.mlp(inputs: 64, hidden: [32, 16], classes: 10)
        #expect(mlp.layout.tensors == [
            TensorSpec(name: "dense_0.weight", shape: [32, 64]), TensorSpec(name: "dense_0.bias", shape: [32]),
            TensorSpec(name: "dense_1.weight", shape: [16, 32]), TensorSpec(name: "dense_1.bias", shape: [16]),
            TensorSpec(name: "dense_2.weight", shape: [10, 16]), TensorSpec(name: "dense_2.bias", shape: [10]),
        ])
        #expect(mlp.layout.count == 64 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10)
        let logistic = NetworkArchitecture.softmaxRegression(inputs: 30, classes: 2)
        #expect(logistic.layout.tensors.map(\.name) == ["dense_0.weight", "dense_0.bias"])
        #expect(logistic.layout.tensors[0].shape == [2, 30])
    }

    @Test func initialModelsAreSeededWithZeroBiasesAndScaledWeights() {
        let architecture = NetworkArchitecture.mlp(inputs: 50, hidden: [40], classes: 10)
        let a = architecture.initialModel(seed: 1), b = architecture.initialModel(seed: 1), c = architecture.initialModel(seed: 2)
        #expect(a == b)
        #expect(a != c)
        #expect(a.tensor("dense_0.bias")!.allSatisfy { $0 == 0 } && a.tensor("dense_1.bias")!.allSatisfy { $0 == 0 })
        // He uniform before the ReLU: U(±√(6/fan_in)); Glorot uniform before the softmax: U(±√(6/(fan_in+fan_out))).
        let hidden = a.tensor("dense_0.weight")!, output = a.tensor("dense_1.weight")!
        let he = Float((6.0 / 50).squareRoot()), glorot = Float((6.0 / 50).squareRoot())
        #expect(hidden.allSatisfy { abs($0) <= he } && hidden.map(abs).max()! > 0.9 * he)
        #expect(output.allSatisfy { abs($0) <= glorot } && output.map(abs).max()! > 0.9 * glorot)
        let tanh = NetworkArchitecture.mlp(inputs: 50, hidden: [40], classes: 10, activation: .tanh).initialModel(seed: 1)
        let limit = Float((6.0 / 90).squareRoot())
        #expect(tanh.tensor("dense_0.weight")!.allSatisfy { abs($0) <= limit })
    }

    @Test func invalidArchitecturesAreRejected() {
        #expect(throws: NetworkArchitectureError.self) { try NetworkArchitecture.mlp(inputs: 0, hidden: [3], classes: 2).validate() }
        #expect(throws: NetworkArchitectureError.self) { try NetworkArchitecture.softmaxRegression(inputs: 3, classes: 1).validate() }
        #expect(throws: Never.self) { try NetworkArchitecture.mlp(inputs: 3, hidden: [], classes: 2).validate() }
    }
}
