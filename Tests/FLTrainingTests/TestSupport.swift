import FLCore
import FLTraining
import Foundation

/// The datasets shipped in the repository (the copies under `workspaces/`), loaded once.
enum ShippedData {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let breastCancer: Dataset = load("workspaces/breast_cancer/data/breast_cancer_wisconsin.csv")
    static let digits: Dataset = load("workspaces/digits/data/digits_8x8.csv")

    private static func load(_ path: String) -> Dataset {
        do { return try CSVDataset.load(path: root.appendingPathComponent(path).path) } catch { fatalError("\(error)") }
    }
}

/// A small random classification problem: `rows × features` normal values, labels uniform over `classes`.
func randomDataset(rows: Int, features: Int, classes: Int, seed: UInt64) -> Dataset {
    var rng = SeededGenerator(seed: seed)
    let x = (0..<(rows * features)).map { _ in Float(rng.normal()) }
    let y = (0..<rows).map { _ in Int32(rng.integer(below: classes)) }
    return Dataset(features: x, labels: y, featureNames: (0..<features).map { "f\($0)" }, classCount: classes)
}

/// Shannon entropy (nats) of a count vector.
func entropy(_ counts: [Int]) -> Double {
    let total = Double(counts.reduce(0, +))
    return counts.filter { $0 > 0 }.reduce(0) { h, c in
        let p = Double(c) / total
        return h - p * log(p)
    }
}
