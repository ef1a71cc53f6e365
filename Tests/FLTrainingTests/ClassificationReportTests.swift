import FLTraining
import Foundation
import Testing

@Suite struct ClassificationReportTests {
    /// Five rows, four classes; class 3 is never the label nor predicted.
    @Test func handComputedCase() {
        let logits: [Float] = [
            2, 0, 0, -5,  // true 0, predicted 0
            0, 1, 0, -5,  // true 1, predicted 1
            0, 0, 3, -5,  // true 1, predicted 2
            1, 1, 0, -5,  // true 2, a tie: predicted 0 (the lowest index)
            0, 0, 0, -5,  // true 2, all tied: predicted 0
        ]
        let labels: [Int32] = [0, 1, 1, 2, 2]
        let report = logits.withUnsafeBufferPointer { z in labels.withUnsafeBufferPointer { y in ClassificationReport(logits: z, labels: y, classCount: 4) } }
        #expect(report.confusionMatrix == [[1, 0, 0, 0], [0, 1, 1, 0], [2, 0, 0, 0], [0, 0, 0, 0]])
        #expect(report.count == 5 && report.correct == 2)
        #expect(report.accuracy == 0.4)
        #expect((0..<4).map(report.support) == [1, 2, 2, 0])
        #expect(abs(report.precision(0) - 1.0 / 3) < 1e-15)
        #expect(report.precision(1) == 1 && report.precision(2) == 0 && report.precision(3) == 0)
        #expect(report.recall(0) == 1 && report.recall(1) == 0.5 && report.recall(2) == 0 && report.recall(3) == 0)
        // −log softmax(z)[label] = log Σ exp(z) − z[label].
        let e5 = exp(-5.0)
        let losses = [log(exp(2) + 2 + e5) - 2, log(2 + exp(1) + e5) - 1, log(2 + exp(3) + e5) - 0,
                      log(2 * exp(1) + 1 + e5) - 0, log(3 + e5) - 0]
        #expect(abs(report.meanLoss - losses.reduce(0, +) / 5) < 1e-12)
    }

    @Test func hugeLogitsDoNotOverflow() {
        var report = ClassificationReport(classCount: 2)
        [Float(1e30), -1e30].withUnsafeBufferPointer { report.add(logits: $0, label: 1) }
        #expect(report.lossSum == 2e30 || abs(report.lossSum - 2e30) / 2e30 < 1e-6)
        #expect(report.meanLoss.isFinite && report.accuracy == 0)
        #expect(ClassificationReport(classCount: 3).accuracy == 0 && ClassificationReport(classCount: 3).meanLoss == 0)
    }
}
