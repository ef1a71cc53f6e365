import Foundation
import FLCore

/// One measured figure, with what it is compared against and the target it must meet.
struct BenchmarkFigure: Codable, Sendable {
    var name: String
    var value: Double
    var unit: String
    /// The reference measured in the same run (or quoted from elsewhere, then `referenceNote` says so).
    var reference: Double?
    /// `value / reference` (or the inverse, when lower is better: see `ratioMeaning`).
    var ratio: Double?
    /// The target, in words: `ratio >= 0.6`, `< 300 ms`.
    var target: String
    /// Whether the target was met.
    var met: Bool?
    var note: String?
}

/// Collects figures, prints them as a table as they come, and writes them all as JSON.
final class BenchmarkReport: @unchecked Sendable {
    private(set) var figures: [BenchmarkFigure] = []
    private let lock = NSLock()

    func add(_ figure: BenchmarkFigure) {
        lock.lock()
        figures.append(figure)
        lock.unlock()
        print(BenchmarkReport.row(figure))
    }

    static let header = "figure".padding(toLength: 58, withPad: " ", startingAt: 0) + " " + "value".padding(toLength: 16, withPad: " ", startingAt: 0)
        + " " + "reference".padding(toLength: 14, withPad: " ", startingAt: 0) + " " + "ratio".padding(toLength: 9, withPad: " ", startingAt: 0) + " target"

    static func row(_ f: BenchmarkFigure) -> String {
        func fmt(_ v: Double) -> String {
            if v == 0 { return "0" }
            if abs(v) >= 1000 { return String(format: "%.0f", v) }
            if abs(v) >= 10 { return String(format: "%.1f", v) }
            return String(format: "%.3g", v)
        }
        let value = "\(fmt(f.value)) \(f.unit)"
        let reference = f.reference.map { fmt($0) } ?? "-"
        let ratio = f.ratio.map { fmt($0) } ?? "-"
        let verdict = f.met.map { $0 ? "ok" : "MISSED" } ?? ""
        return f.name.padding(toLength: 58, withPad: " ", startingAt: 0) + " " + value.padding(toLength: 16, withPad: " ", startingAt: 0) + " "
            + reference.padding(toLength: 14, withPad: " ", startingAt: 0) + " " + ratio.padding(toLength: 9, withPad: " ", startingAt: 0)
            + " \(f.target) \(verdict)"
    }

    func write(to path: String) throws {
        try JSONCoding.encoder(.pretty).encode(figures).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
