/// Labelled samples for classification: a row-major float32 feature matrix and one integer label per row.
public struct Dataset: Sendable, Equatable {
    /// `count × featureCount` values, row after row.
    public var features: [Float]
    /// One class index in `0..<classCount` per row.
    public var labels: [Int32]
    /// The name of each feature column.
    public var featureNames: [String]
    /// Number of classes of the task. Kept by subsets and shards even when some class has no row left,
    /// so every site builds the same model shape.
    public var classCount: Int

    /// - Precondition: `features.count == labels.count * featureNames.count` and every label is in
    ///   `0..<classCount`.
    public init(features: [Float], labels: [Int32], featureNames: [String], classCount: Int) {
        precondition(features.count == labels.count * featureNames.count,
                     "Dataset: \(features.count) feature values for \(labels.count) rows × \(featureNames.count) features")
        precondition(labels.allSatisfy { $0 >= 0 && Int($0) < classCount }, "Dataset: a label is outside 0..<\(classCount)")
        self.features = features
        self.labels = labels
        self.featureNames = featureNames
        self.classCount = classCount
    }

    /// Number of rows.
    public var count: Int { labels.count }
    /// Number of features per row.
    public var featureCount: Int { featureNames.count }
    public var isEmpty: Bool { labels.isEmpty }

    /// Rows per class, indexed by label.
    public var classCounts: [Int] {
        var counts = [Int](repeating: 0, count: classCount)
        for y in labels { counts[Int(y)] += 1 }
        return counts
    }

    /// The rows at `rows`, in that order.
    public func subset(_ rows: [Int]) -> Dataset {
        let d = featureCount
        var x = [Float](repeating: 0, count: rows.count * d)
        var y = [Int32](repeating: 0, count: rows.count)
        features.withUnsafeBufferPointer { src in
            x.withUnsafeMutableBufferPointer { dst in
                for (i, r) in rows.enumerated() {
                    precondition(r >= 0 && r < count, "subset: row \(r) is outside 0..<\(count)")
                    MatrixKernels.copy(src.baseAddress! + r * d, to: dst.baseAddress! + i * d, count: d)
                    y[i] = labels[r]
                }
            }
        }
        return Dataset(features: x, labels: y, featureNames: featureNames, classCount: classCount)
    }

    /// Splits the rows into a training and a validation part, each keeping the original row order.
    ///
    /// Stratified: within each class, `round(validationFraction × class size)` rows chosen at random go to
    /// validation, so both parts keep the class proportions. Otherwise `round(validationFraction × count)`
    /// rows chosen at random. The same seed always gives the same split.
    /// - Precondition: `0 <= validationFraction <= 1`.
    public func trainValidation(validationFraction: Double, seed: UInt64, stratified: Bool = true) -> (train: Dataset, validation: Dataset) {
        precondition(validationFraction >= 0 && validationFraction <= 1, "validationFraction must be in [0, 1], got \(validationFraction)")
        var rng = SeededGenerator(seed: seed)
        var isValidation = [Bool](repeating: false, count: count)
        if stratified {
            var byClass = [[Int]](repeating: [], count: classCount)
            for (r, y) in labels.enumerated() { byClass[Int(y)].append(r) }
            for var rows in byClass where !rows.isEmpty {
                rng.shuffle(&rows)
                let take = Int((validationFraction * Double(rows.count)).rounded())
                for r in rows.prefix(take) { isValidation[r] = true }
            }
        } else {
            let order = rng.permutation(count)
            let take = Int((validationFraction * Double(count)).rounded())
            for r in order.prefix(take) { isValidation[r] = true }
        }
        let train = (0..<count).filter { !isValidation[$0] }
        let validation = (0..<count).filter { isValidation[$0] }
        return (subset(train), subset(validation))
    }
}
