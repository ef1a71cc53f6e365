#if canImport(Glibc)
import Glibc
#endif
import FLCore
import Foundation

/// Loads a classification dataset from CSV: a header row naming the columns, one integer label column
/// (by default `label`), and every other column a numeric feature.
///
/// Fields are separated by commas; a field may be wrapped in double quotes (`""` inside stands for one
/// quote) but may not span lines. Spaces around a field are ignored, blank lines are skipped, and a UTF-8
/// byte-order mark is allowed. Problems are reported with the file, line and column, the way a compiler
/// reports them.
public enum CSVDataset {
    /// Reads and parses the CSV file at `path`.
    /// - Parameters:
    ///   - labelColumn: the header name of the label column.
    ///   - classCount: the number of classes of the task; when nil, one more than the largest label. Pass it
    ///     whenever shards are loaded separately, so a site missing a class still builds the same model.
    /// - Throws: `CSVDatasetError`.
    public static func load(path: String, labelColumn: String = "label", classCount: Int? = nil) throws -> Dataset {
        try parse(readFile(path), source: path, labelColumn: labelColumn, classCount: classCount)
    }

    /// Parses CSV text held in memory; `source` names it in errors.
    /// - Throws: `CSVDatasetError`.
    public static func parse(_ text: String, source: String = "<memory>", labelColumn: String = "label", classCount: Int? = nil) throws -> Dataset {
        try parse(Array(text.utf8), source: source, labelColumn: labelColumn, classCount: classCount)
    }

    /// Parses CSV bytes held in memory; `source` names them in errors.
    /// - Throws: `CSVDatasetError`.
    public static func parse(_ bytes: [UInt8], source: String = "<memory>", labelColumn: String = "label", classCount: Int? = nil) throws -> Dataset {
        if let classCount, classCount < 1 {
            throw CSVDatasetError(path: source, line: nil, column: nil, problem: .invalidClassCount(classCount))
        }
        let table = try parseTable(bytes, source: source, labelColumn: labelColumn, labels: .required)
        let labels = table.labels
        let classes = classCount ?? (Int(labels.max()!) + 1)
        if let i = labels.firstIndex(where: { Int($0) >= classes }) {
            let (line, start) = table.labelLocations[i]
            throw CSVDatasetError(path: source, line: line.number, column: column(start, on: line, bytes: bytes),
                                  problem: .labelOutOfRange(label: Int(labels[i]), classCount: classes))
        }
        return Dataset(features: table.features, labels: labels, featureNames: table.featureNames, classCount: classes)
    }

    /// Reads the feature columns of the CSV file at `path`: every column but `labelColumn`, which may
    /// be absent (rows to predict) and is not read when present.
    /// - Throws: `CSVDatasetError`.
    public static func loadFeatures(path: String, labelColumn: String = "label") throws -> FeatureTable {
        try parseFeatures(readFile(path), source: path, labelColumn: labelColumn)
    }

    /// Parses the feature columns of CSV bytes held in memory (see `loadFeatures`).
    /// - Throws: `CSVDatasetError`.
    public static func parseFeatures(_ bytes: [UInt8], source: String = "<memory>", labelColumn: String = "label") throws -> FeatureTable {
        let table = try parseTable(bytes, source: source, labelColumn: labelColumn, labels: .skipped)
        return FeatureTable(features: table.features, featureNames: table.featureNames, hasLabelColumn: table.hasLabelColumn)
    }

    /// Whether the label column must be there (and is read) or is left out of the features if present.
    enum LabelHandling {
        case required
        case skipped
    }

    struct Table {
        var features: [Float] = []
        var featureNames: [String]
        var hasLabelColumn: Bool
        /// Empty unless labels are `required`.
        var labels: [Int32] = []
        /// Where each label was read, to point at an out-of-range label once the class count is known.
        var labelLocations: [(line: Line, start: Int)] = []
    }

    static func parseTable(_ bytes: [UInt8], source: String, labelColumn: String, labels handling: LabelHandling) throws -> Table {
        var reader = LineReader(bytes: bytes)
        func fail(_ line: Int?, _ column: Int? = nil, _ problem: CSVDatasetError.Problem) -> CSVDatasetError {
            CSVDatasetError(path: source, line: line, column: column, problem: problem)
        }

        guard let header = reader.nextLine() else { throw fail(nil, nil, .emptyFile) }
        let names = try splitFields(header, bytes: bytes).map { field -> String in
            if let problem = field.problem { throw fail(header.number, column(field.start, on: header, bytes: bytes), problem) }
            return field.text
        }
        var seen = Set<String>()
        for (i, name) in names.enumerated() where !seen.insert(name).inserted {
            throw fail(header.number, nil, .duplicateColumn(name: name, position: i + 1))
        }
        let labelIndex = names.firstIndex(of: labelColumn)
        if labelIndex == nil && handling == .required {
            throw fail(header.number, nil, .missingLabelColumn(name: labelColumn, columns: names))
        }
        var table = Table(featureNames: names.enumerated().filter { $0.offset != labelIndex }.map(\.element), hasLabelColumn: labelIndex != nil)
        table.features.reserveCapacity(bytes.count / 4)
        var rows = 0
        while let line = reader.nextLine() {
            let fields = splitFields(line, bytes: bytes)
            guard fields.count == names.count else {
                throw fail(line.number, nil, .wrongColumnCount(expected: names.count, found: fields.count))
            }
            for (i, field) in fields.enumerated() {
                if i == labelIndex {
                    // A label is only data to predict for: whatever it holds is not read.
                    if handling == .skipped { continue }
                    if let problem = field.problem { throw fail(line.number, column(field.start, on: line, bytes: bytes), problem) }
                    guard let label = classIndex(field.text) else {
                        throw fail(line.number, column(field.start, on: line, bytes: bytes), .invalidLabel(column: names[i], text: field.text))
                    }
                    table.labels.append(label)
                    table.labelLocations.append((line, field.start))
                } else {
                    if let problem = field.problem { throw fail(line.number, column(field.start, on: line, bytes: bytes), problem) }
                    guard let value = Float(field.text), value.isFinite else {
                        throw fail(line.number, column(field.start, on: line, bytes: bytes), .notANumber(column: names[i], text: field.text))
                    }
                    table.features.append(value)
                }
            }
            rows += 1
        }
        guard rows > 0 else { throw fail(nil, nil, .noRows) }
        return table
    }

    /// A class index: a non-negative integer, also written as `3.0`.
    private static func classIndex(_ text: String) -> Int32? {
        if let i = Int32(text), i >= 0 { return i }
        if let d = Double(text), d >= 0, d <= Double(Int32.max), d == d.rounded() { return Int32(d) }
        return nil
    }

    private static func readFile(_ path: String) throws -> [UInt8] {
        func fail(_ reason: String) -> CSVDatasetError { CSVDatasetError(path: path, line: nil, column: nil, problem: .unreadable(reason)) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw fail(String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw fail(String(cString: strerror(errno))) }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw fail("is a directory") }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        do {
            try bytes.withUnsafeMutableBytes { try FileDescriptorIO.readExactly(fd, into: $0, path: path) }
        } catch {
            throw fail("\(error)")
        }
        return bytes
    }

    // MARK: Lines and fields

    struct Line {
        var number: Int
        var start: Int
        var end: Int
    }

    /// Yields non-blank lines with their 1-based numbers, without the line terminator.
    struct LineReader {
        let bytes: [UInt8]
        var position = 0
        var number = 0

        init(bytes: [UInt8]) {
            self.bytes = bytes
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }
        }

        mutating func nextLine() -> Line? {
            while position < bytes.count {
                number += 1
                let start = position
                var end = start
                while end < bytes.count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
                position = end + 1
                var trimmed = end
                if trimmed > start && bytes[trimmed - 1] == UInt8(ascii: "\r") { trimmed -= 1 }
                if bytes[start..<trimmed].contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }) {
                    return Line(number: number, start: start, end: trimmed)
                }
            }
            return nil
        }
    }

    struct Field {
        var text: String
        /// Byte offset of the field's first character in the file.
        var start: Int
        var problem: CSVDatasetError.Problem?
    }

    /// The 1-based character column of byte `position` on `line`; computed only for errors.
    static func column(_ position: Int, on line: Line, bytes: [UInt8]) -> Int {
        // Count characters, not bytes: UTF-8 continuation bytes do not start a character.
        1 + bytes[line.start..<position].reduce(0) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) }
    }

    static func splitFields(_ line: Line, bytes: [UInt8]) -> [Field] {
        var fields: [Field] = []
        var i = line.start
        func isSpace(_ b: UInt8) -> Bool { b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") }
        while true {
            while i < line.end && isSpace(bytes[i]) { i += 1 }
            let start = i
            if i < line.end && bytes[i] == UInt8(ascii: "\"") {
                var text: [UInt8] = []
                i += 1
                var closed = false
                while i < line.end {
                    if bytes[i] == UInt8(ascii: "\"") {
                        if i + 1 < line.end && bytes[i + 1] == UInt8(ascii: "\"") {
                            text.append(UInt8(ascii: "\""))
                            i += 2
                            continue
                        }
                        closed = true
                        i += 1
                        break
                    }
                    text.append(bytes[i])
                    i += 1
                }
                var field = Field(text: String(decoding: text, as: UTF8.self), start: start)
                if !closed { field.problem = .unterminatedQuote }
                while i < line.end && isSpace(bytes[i]) { i += 1 }
                if field.problem == nil && i < line.end && bytes[i] != UInt8(ascii: ",") { field.problem = .textAfterQuote }
                while i < line.end && bytes[i] != UInt8(ascii: ",") { i += 1 }
                fields.append(field)
            } else {
                while i < line.end && bytes[i] != UInt8(ascii: ",") { i += 1 }
                var end = i
                while end > start && isSpace(bytes[end - 1]) { end -= 1 }
                fields.append(Field(text: String(decoding: bytes[start..<end], as: UTF8.self), start: start))
            }
            if i >= line.end { break }
            i += 1  // the comma
        }
        return fields
    }
}

/// A CSV dataset that cannot be loaded: where, and what is wrong.
public struct CSVDatasetError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Problem: Sendable, Equatable {
        case unreadable(String)
        case emptyFile
        case noRows
        case missingLabelColumn(name: String, columns: [String])
        case duplicateColumn(name: String, position: Int)
        case wrongColumnCount(expected: Int, found: Int)
        case notANumber(column: String, text: String)
        case invalidLabel(column: String, text: String)
        case labelOutOfRange(label: Int, classCount: Int)
        case invalidClassCount(Int)
        case unterminatedQuote
        case textAfterQuote
    }

    /// The file (or the `source` name given to `parse`).
    public var path: String
    /// 1-based line number, when the problem is on a line.
    public var line: Int?
    /// 1-based character column, when the problem is in a field.
    public var column: Int?
    public var problem: Problem

    public var description: String {
        var location = path
        if let line { location += ":\(line)" }
        if let column { location += ":\(column)" }
        let message: String
        switch problem {
        case .unreadable(let reason): message = "cannot read: \(reason)"
        case .emptyFile: message = "empty file: expected a header row naming the columns"
        case .noRows: message = "no data rows after the header"
        case .missingLabelColumn(let name, let columns):
            message = "no label column \"\(name)\" in the header (columns: \(columns.joined(separator: ", ")))"
        case .duplicateColumn(let name, let position): message = "column \"\(name)\" (#\(position)) appears twice in the header"
        case .wrongColumnCount(let expected, let found): message = "expected \(expected) columns, found \(found)"
        case .notANumber(let column, let text): message = "column \"\(column)\": \"\(text)\" is not a number"
        case .invalidLabel(let column, let text):
            message = "column \"\(column)\": label \"\(text)\" is not a class index (a non-negative integer)"
        case .labelOutOfRange(let label, let classCount): message = "label \(label) is outside the \(classCount) classes 0..<\(classCount)"
        case .invalidClassCount(let n): message = "class count \(n) is not positive"
        case .unterminatedQuote: message = "quoted field has no closing quote"
        case .textAfterQuote: message = "unexpected text after a closing quote"
        }
        return "\(location): \(message)"
    }
}
