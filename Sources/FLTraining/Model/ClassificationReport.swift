#if canImport(Glibc)
import Glibc
#endif

/// How well a classifier did on labelled rows: accuracy, mean cross-entropy, and per class the
/// precision, recall and support, all read off one confusion matrix.
///
/// A row's prediction is its highest logit (ties go to the lowest class index, as in training).
public struct ClassificationReport: Sendable, Hashable {
    /// Number of classes; the confusion matrix is `classCount × classCount`.
    public let classCount: Int
    /// `confusion[t * classCount + p]`: rows of true class `t` predicted as `p` (rows true, columns predicted).
    public private(set) var confusion: [Int]
    /// Sum over the rows of `−log softmax(z)[label]` (natural log).
    public private(set) var lossSum: Double

    /// An empty report.
    /// - Precondition: `classCount >= 1`.
    public init(classCount: Int) {
        precondition(classCount >= 1, "ClassificationReport: \(classCount) classes")
        self.classCount = classCount
        self.confusion = [Int](repeating: 0, count: classCount * classCount)
        self.lossSum = 0
    }

    /// A report of `labels.count` rows whose logits are `logits` (row-major, `classCount` per row).
    /// - Precondition: `logits.count == labels.count × classCount`; every label is in `0..<classCount`.
    public init(logits: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int32>, classCount: Int) {
        self.init(classCount: classCount)
        precondition(logits.count == labels.count * classCount, "ClassificationReport: \(logits.count) logits for \(labels.count) rows × \(classCount) classes")
        for r in 0..<labels.count {
            add(logits: UnsafeBufferPointer(rebasing: logits[(r * classCount)..<((r + 1) * classCount)]), label: Int(labels[r]))
        }
    }

    /// Counts one row with these logits and this true label.
    /// - Precondition: `logits.count == classCount`; `label` is in `0..<classCount`.
    public mutating func add(logits z: UnsafeBufferPointer<Float>, label: Int) {
        precondition(z.count == classCount && label >= 0 && label < classCount, "ClassificationReport: row does not fit \(classCount) classes")
        var best = 0
        for j in 1..<classCount where z[j] > z[best] { best = j }
        // log Σ exp(z) − z[label], with the largest logit taken out so nothing overflows; in double
        // precision so that a sum over many rows keeps its digits.
        let top = Double(z[best])
        var sum = 0.0
        for j in 0..<classCount { sum += exp(Double(z[j]) - top) }
        lossSum += log(sum) + top - Double(z[label])
        confusion[label * classCount + best] += 1
    }

    /// Rows counted.
    public var count: Int { confusion.reduce(0, +) }
    /// Rows whose prediction is their label.
    public var correct: Int { (0..<classCount).reduce(0) { $0 + confusion[$1 * classCount + $1] } }
    /// `correct / count`; 0 for no rows.
    public var accuracy: Double { count == 0 ? 0 : Double(correct) / Double(count) }
    /// Mean cross-entropy loss (natural log); 0 for no rows.
    public var meanLoss: Double { count == 0 ? 0 : lossSum / Double(count) }

    /// Rows of true class `c`.
    public func support(_ c: Int) -> Int { (0..<classCount).reduce(0) { $0 + confusion[c * classCount + $1] } }
    /// Rows predicted as class `c`.
    public func predicted(_ c: Int) -> Int { (0..<classCount).reduce(0) { $0 + confusion[$1 * classCount + c] } }
    /// Of the rows predicted as `c`, the share that are `c`; 0 when none is predicted as `c` (as scikit-learn reports it).
    public func precision(_ c: Int) -> Double {
        let n = predicted(c)
        return n == 0 ? 0 : Double(confusion[c * classCount + c]) / Double(n)
    }
    /// Of the rows of class `c`, the share predicted as `c`; 0 when there are none.
    public func recall(_ c: Int) -> Double {
        let n = support(c)
        return n == 0 ? 0 : Double(confusion[c * classCount + c]) / Double(n)
    }
    /// The confusion matrix as rows (true class) of columns (predicted class).
    public var confusionMatrix: [[Int]] { (0..<classCount).map { t in Array(confusion[(t * classCount)..<((t + 1) * classCount)]) } }
}
