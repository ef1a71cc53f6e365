import Foundation
import Testing
import FLCore
import FLTesting
@testable import FLTraining

@Suite struct ScaffoldControlTests {
    /// cᵢ⁺ = cᵢ − c + (x − y)/(K·η): with cᵢ = (1, 0), c = (0.5, 0.5), x = (1, 1), y = (0, 2), K = 4, η = 0.25
    /// (K·η = 1): cᵢ⁺ = (1 − 0.5 + 1, 0 − 0.5 − 1) = (1.5, −1.5); returned c + cᵢ⁺ − cᵢ = (1, −1).
    @Test func theSiteUpdateIsOptionTwo() {
        let (site, returned) = ScaffoldControl.update(site: [1, 0], server: [0.5, 0.5][...], start: [1, 1], trained: [0, 2], steps: 4, learningRate: 0.25)
        #expect(site == [1.5, -1.5])
        #expect(returned == [1, -1])
    }

    @Test func theControlTensorsFollowTheModelsOwn() throws {
        let network = try ModelLayout([TensorSpec(name: "dense_0.weight", shape: [2, 3]), TensorSpec(name: "dense_0.bias", shape: [2])])
        let carried = try Standardizer.layout(network, preprocessingFeatures: 3)
        let layout = try ScaffoldControl.layout(carried, controlling: network)
        #expect(layout.tensors.map(\.name) == ["dense_0.weight", "dense_0.bias", "preprocess.mean", "preprocess.scale",
                                               "scaffold.dense_0.weight", "scaffold.dense_0.bias"])
        #expect(throws: (any Error).self) { try ScaffoldControl.layout(layout, controlling: network) }
    }

    /// A site trains round 0 from c = 0: it keeps cᵢ in its file and returns c + Δcᵢ in the model; a
    /// runner made afresh (a restarted site) starts round 1 from that file, and its correction changes training.
    @Test func aSiteKeepsItsControlVariateAcrossRoundsAndRestarts() throws {
        let folder = try FLTesting.TemporaryDirectory(prefix: "scaffold")
        let state = folder.appending("state/scaffold-site.safetensors")
        let architecture = NetworkArchitecture.softmaxRegression(inputs: 64, classes: 10)
        let split = LocalSplit(ShippedData.digits, validationFraction: 0.2, seed: 0)
        func runner(scaffold: Bool) throws -> BuiltinTaskRunner {
            var settings = BuiltinRunnerSettings(architecture: architecture, optimizer: .sgd(learningRate: 0.05), batchSize: 64, epochs: 1,
                                                 train: split.train, validation: split.validation)
            settings.scaffoldStatePath = scaffold ? state : nil
            return try BuiltinTaskRunner(settings: settings)
        }
        let network = architecture.initialModel(seed: 0)
        let start = try ScaffoldControl.appendingZeros(to: network, controlling: network.layout)
        let train = TaskInvocation(name: "train", function: .train, round: 0)
        let first = try #require(try runner(scaffold: true).run(train, model: start).model)
        let n = network.layout.count
        let kept = try Safetensors.read(state).model.values
        // c = 0 and cᵢ = 0 before: cᵢ⁺ = (x − y)/(K·η), and the model carries c + cᵢ⁺ − cᵢ = cᵢ⁺.
        let steps = Int((Double(split.train.count) / 64).rounded(.up))
        for i in stride(from: 0, to: n, by: 97) {
            let expected = (network.values[i] - first.values[i]) / Float(Double(steps) * 0.05)
            #expect(abs(kept[i] - expected) <= 1e-4 * max(1, abs(expected)), "element \(i): \(kept[i]) vs \(expected)")
        }
        #expect(Array(first.values[n...]) == kept)
        // The network part is what plain training gives when c − cᵢ = 0.
        let plain = try #require(try runner(scaffold: false).run(train, model: network).model)
        #expect(Array(first.values[..<n]) == plain.values)

        // Round 1 by a new runner: the correction c − cᵢ is no longer zero, so training differs.
        var next = first
        next.values.replaceSubrange(n..., with: [Float](repeating: 0, count: n))  // c = 0 now: correction = −cᵢ
        let round1 = TaskInvocation(name: "train", function: .train, round: 1)
        let corrected = try #require(try runner(scaffold: true).run(round1, model: next).model)
        let uncorrected = try #require(try runner(scaffold: false).run(round1, model: ModelState(layout: network.layout, values: Array(first.values[..<n]))).model)
        #expect(Array(corrected.values[..<n]) != uncorrected.values)
    }

    /// A round trained again (its aggregator restarted before closing it) starts from the control
    /// variate that round started from the first time; the next round starts from the newest.
    @Test func aRoundTrainedAgainStartsFromWhatItStartedFromBefore() throws {
        let folder = try FLTesting.TemporaryDirectory(prefix: "scaffold")
        let network = try ModelLayout([TensorSpec(name: "w", shape: [2])])
        let path = folder.appending("site.safetensors")
        #expect(try ScaffoldControl.loadSiteControl(path, network: network, round: 0) == [0, 0])
        try ScaffoldControl.saveSiteControl(used: [0, 0], next: [1, 1], round: 0, network: network, to: path)
        try ScaffoldControl.saveSiteControl(used: [1, 1], next: [2, 2], round: 1, network: network, to: path)
        #expect(try ScaffoldControl.loadSiteControl(path, network: network, round: 2) == [2, 2])
        #expect(try ScaffoldControl.loadSiteControl(path, network: network, round: 1) == [1, 1])
        let other = try ModelLayout([TensorSpec(name: "w", shape: [3])])
        #expect(throws: TrainingError.self) { try ScaffoldControl.loadSiteControl(path, network: other, round: 2) }
    }
}
