import Foundation
import FLCore

/// The human-readable account of an analytics result: a line about the query, one row per cell
/// (count, mean, std, quantiles), each cell's histogram, and what every site did.
enum AnalyticsTable {
    static func describe(_ result: AnalyticsResult) -> String {
        let q = result.query
        let answered = result.sites.filter { $0.state == .answered }.count
        var lines = ["analytics query \(result.id) by \(result.submittedBy): "
                     + (result.isComplete ? "complete" : "waiting") + " (\(answered) of \(result.sites.count) sites answered)"]
        if result.cells.isEmpty {
            lines.append(result.isComplete ? "no cells: no site answered" : "no answers yet")
        } else {
            var header = ["COLUMN"] + (q.groupBy.map { [$0.uppercased()] } ?? []) + ["COUNT"]
            header += (q.asks(.mean) ? ["MEAN"] : []) + (q.asks(.std) ? ["STD"] : []) + q.quantiles.map { "Q\(number($0))" }
            var rows = [header]
            for cell in result.cells {
                var row = [cell.column] + (q.groupBy != nil ? [cell.label.map(String.init) ?? "-"] : [])
                row.append("\(cell.count)" + (cell.withheld.isEmpty ? "" : " (\(cell.withheld.count) withheld)"))
                if q.asks(.mean) { row.append(cell.mean.map(number) ?? "-") }
                if q.asks(.std) { row.append(cell.std.map(number) ?? "-") }
                row += cell.quantiles.isEmpty ? q.quantiles.map { _ in "-" } : cell.quantiles.map(number)
                rows.append(row)
            }
            lines.append(table(rows))
        }
        if q.asks(.histogram) {
            for cell in result.cells where !cell.histogram.isEmpty { lines.append(histogram(cell, edges: q.histogramEdges)) }
        }
        let withheld = result.cells.flatMap { cell in cell.withheld.map { "  \(cell.column)\(cell.label.map { " label \($0)" } ?? ""): \($0)" } }
        if !withheld.isEmpty { lines.append("withheld (cells with too few rows at a site):\n" + withheld.joined(separator: "\n")) }
        lines.append("sites:")
        lines.append(table(result.sites.map { s in
            let note = [s.withheldCells > 0 ? "\(s.withheldCells) cells withheld" : "", s.reason].filter { !$0.isEmpty }.joined(separator: "; ")
            return ["  " + s.site, s.state.rawValue] + (note.isEmpty ? [] : [note])
        }))
        if q.asks(.quantiles) { lines.append("quantiles are estimates within 1 % of the exact value (DDSketch)") }
        return lines.joined(separator: "\n")
    }

    /// One cell's bins; a bin some sites withheld shows its count with `+` (at least that many).
    static func histogram(_ cell: AnalyticsCell, edges: [Double]) -> String {
        var rows = [["  BIN", "COUNT"]]
        for (i, count) in cell.histogram.enumerated() {
            let range = i == 0 ? "< \(number(edges[0]))" : i == edges.count ? "> \(number(edges[edges.count - 1]))"
                : "[\(number(edges[i - 1])), \(number(edges[i]))\(i == edges.count - 1 ? "]" : ")")"
            let withheldBy = i < cell.binsWithheldBy.count ? cell.binsWithheldBy[i] : 0
            rows.append(["  " + range, "\(count)" + (withheldBy > 0 ? "+ (withheld by \(withheldBy) site\(withheldBy == 1 ? "" : "s"))" : "")])
        }
        return "histogram of \(cell.column)\(cell.label.map { ", label \($0)" } ?? ""):\n" + table(rows)
    }

    static func number(_ x: Double) -> String { String(format: "%.6g", x) }

    static func table(_ rows: [[String]]) -> String { DirectorConnection.table(rows) }
}
