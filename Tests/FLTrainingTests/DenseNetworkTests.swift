import FLCore
import FLTraining
import Foundation
import Testing

/// An independent double-precision forward pass: plain loops over the named tensors, written from the
/// definitions, used to check the float32 network's logits and (by finite differences) its gradients.
struct ReferenceNetwork {
    let architecture: NetworkArchitecture

    func logits(_ parameters: [Double], layout: ModelLayout, inputs: [Double], rows: Int) -> [Double] {
        let widths = architecture.widths
        var activations = inputs
        for l in 0..<(widths.count - 1) {
            let w = layout.range(of: "dense_\(l).weight")!, b = layout.range(of: "dense_\(l).bias")!
            let fanIn = widths[l], fanOut = widths[l + 1]
            var next = [Double](repeating: 0, count: rows * fanOut)
            for r in 0..<rows {
                for o in 0..<fanOut {
                    var z = parameters[b.lowerBound + o]
                    for i in 0..<fanIn { z += parameters[w.lowerBound + o * fanIn + i] * activations[r * fanIn + i] }
                    if l < widths.count - 2 { z = architecture.activation == .relu ? max(0, z) : Foundation.tanh(z) }
                    next[r * fanOut + o] = z
                }
            }
            activations = next
        }
        return activations
    }

    func meanLoss(_ parameters: [Double], layout: ModelLayout, inputs: [Double], labels: [Int32]) -> Double {
        let rows = labels.count, classes = architecture.classCount
        let z = logits(parameters, layout: layout, inputs: inputs, rows: rows)
        var total = 0.0
        for r in 0..<rows {
            let row = z[(r * classes)..<((r + 1) * classes)]
            let top = row.max()!
            total += log(row.map { exp($0 - top) }.reduce(0, +)) + top - row[r * classes + Int(labels[r])]
        }
        return total / Double(rows)
    }
}

@Suite struct DenseNetworkTests {
    static let architectures: [NetworkArchitecture] = [
        .softmaxRegression(inputs: 9, classes: 3),
        .softmaxRegression(inputs: 5, classes: 2),
        .mlp(inputs: 7, hidden: [5], classes: 4),
        .mlp(inputs: 7, hidden: [6, 3], classes: 4, activation: .relu),
        .mlp(inputs: 6, hidden: [5, 9], classes: 3, activation: .tanh),
    ]

    @Test(arguments: architectures)
    func gradientMatchesCentralFiniteDifferencesOfADoublePrecisionReference(architecture: NetworkArchitecture) {
        let data = randomDataset(rows: 6, features: architecture.inputCount, classes: architecture.classCount, seed: 11)
        var model = architecture.initialModel(seed: 12)
        // Non-zero biases, so their gradients and the bias path of the forward pass are exercised too.
        var rng = SeededGenerator(seed: 13)
        for spec in model.layout.tensors where spec.name.hasSuffix(".bias") {
            model.setTensor(spec.name, (0..<spec.count).map { _ in Float(rng.normal() * 0.3) })
        }
        let network = DenseNetwork(architecture: architecture)
        let (stats, gradient) = network.lossAndGradient(model: model, data: data)

        let reference = ReferenceNetwork(architecture: architecture)
        let p = model.values.map(Double.init), x = data.features.map(Double.init)
        let loss = reference.meanLoss(p, layout: model.layout, inputs: x, labels: data.labels)
        #expect(abs(stats.meanLoss - loss) < 1e-5 * max(1, loss))
        #expect(stats.count == 6)

        let h = 1e-6
        var worst = 0.0
        for i in 0..<p.count {
            var plus = p, minus = p
            plus[i] += h
            minus[i] -= h
            let numeric = (reference.meanLoss(plus, layout: model.layout, inputs: x, labels: data.labels)
                - reference.meanLoss(minus, layout: model.layout, inputs: x, labels: data.labels)) / (2 * h)
            let error = abs(Double(gradient.values[i]) - numeric) / max(1e-2, abs(numeric))
            worst = max(worst, error)
        }
        #expect(worst < 1e-3, "largest relative gradient error \(worst)")
    }

    @Test func logitsAndChunkedEvaluationMatchTheReference() {
        let architecture = NetworkArchitecture.mlp(inputs: 10, hidden: [13], classes: 5)
        let data = randomDataset(rows: 23, features: 10, classes: 5, seed: 21)
        let model = architecture.initialModel(seed: 22)
        // A capacity of 4 rows makes evaluation run in six chunks, the last one partial.
        let network = DenseNetwork(architecture: architecture, batchCapacity: 4)
        let logits = model.values.withUnsafeBufferPointer { p in data.features.withUnsafeBufferPointer { network.logits(parameters: p, inputs: $0) } }
        let reference = ReferenceNetwork(architecture: architecture)
        let expected = reference.logits(model.values.map(Double.init), layout: model.layout, inputs: data.features.map(Double.init), rows: 23)
        #expect(logits.count == expected.count)
        for (a, b) in zip(logits, expected) { #expect(abs(Double(a) - b) < 1e-5 * max(1, abs(b))) }

        let stats = network.evaluate(model: model, data: data)
        let loss = reference.meanLoss(model.values.map(Double.init), layout: model.layout, inputs: data.features.map(Double.init), labels: data.labels)
        #expect(stats.count == 23)
        #expect(abs(stats.meanLoss - loss) < 1e-5)
        var correct = 0
        for r in 0..<23 {
            let row = Array(expected[(r * 5)..<((r + 1) * 5)])
            if row.firstIndex(of: row.max()!)! == Int(data.labels[r]) { correct += 1 }
        }
        #expect(stats.correct == correct)
    }

    @Test func hugeLogitsGiveAFiniteLossAndGradient() {
        let architecture = NetworkArchitecture.softmaxRegression(inputs: 4, classes: 3)
        var model = architecture.initialModel(seed: 31)
        for i in model.values.indices { model.values[i] *= 5000 }
        let data = randomDataset(rows: 8, features: 4, classes: 3, seed: 32)
        let (stats, gradient) = DenseNetwork(architecture: architecture).lossAndGradient(model: model, data: data)
        #expect(stats.lossSum.isFinite)
        #expect(stats.lossSum > 100)
        #expect(gradient.isFinite)
    }

    @Test func batchGradientIsTheMeanOfPerSampleGradients() {
        let architecture = NetworkArchitecture.mlp(inputs: 8, hidden: [16], classes: 3)
        let data = randomDataset(rows: 40, features: 8, classes: 3, seed: 41)
        let model = architecture.initialModel(seed: 42)
        let network = DenseNetwork(architecture: architecture, batchCapacity: 1)
        let batch = network.lossAndGradient(model: model, data: data)
        var mean = [Double](repeating: 0, count: model.layout.count)
        var lossSum = 0.0
        for r in 0..<40 {
            let single = network.lossAndGradient(model: model, data: data.subset([r]))
            lossSum += single.statistics.lossSum
            for i in mean.indices { mean[i] += Double(single.gradient.values[i]) / 40 }
        }
        #expect(abs(batch.statistics.lossSum - lossSum) < 1e-4)
        for i in mean.indices { #expect(abs(Double(batch.gradient.values[i]) - mean[i]) < 1e-5) }
    }

    /// Not a timing assertion: reports throughput so regressions are visible in the test log.
    @Test func digitsMLPThroughput() throws {
        let split = LocalSplit(ShippedData.digits, validationFraction: 0.2, seed: 0)
        let architecture = NetworkArchitecture.mlp(inputs: 64, hidden: [64], classes: 10)
        let trainer = try Trainer(architecture: architecture)
        var model = architecture.initialModel(seed: 1)
        var optimizer = SGD(layout: model.layout, learningRate: 0.05, momentum: 0.9)
        let start = DispatchTime.now().uptimeNanoseconds
        let metrics = try trainer.train(model: &model, data: split.train, epochs: 3, batchSize: 32, optimizer: &optimizer, seed: 2)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let rate = Double(3 * split.train.count) / seconds
        print("digits MLP(64) training: \(Int(rate)) samples/s (batch 32, forward + backward + SGD step)")
        #expect(metrics.epochLosses.count == 3)
        #expect(metrics.epochLosses[2] < metrics.epochLosses[0])
    }
}
