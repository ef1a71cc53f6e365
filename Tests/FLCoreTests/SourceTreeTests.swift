import Foundation
import Testing

/// The limits the code keeps to stay readable (issue 13): no source file over 500 lines, no
/// function (or initializer) body over 80 lines, outside tests and benchmarks. Read from the
/// package's own `Sources/`, found from this file's path.
struct SourceTreeTests {
    static let maximumFileLines = 500
    static let maximumFunctionLines = 80
    static let exempt = ["fx-bench"]

    static var sourcesDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources")
    }

    static func swiftFiles() throws -> [URL] {
        let root = sourcesDirectory
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return [] }
        var files: [URL] = []
        for case let url as URL in walker where url.pathExtension == "swift" {
            let relative = url.path.dropFirst(root.path.count + 1)
            if !exempt.contains(where: { relative.hasPrefix($0 + "/") }) { files.append(url) }
        }
        return files.sorted { $0.path < $1.path }
    }

    @Test func noSourceFileIsLongerThanTheLimit() throws {
        let files = try Self.swiftFiles()
        #expect(files.count > 100, "found only \(files.count) source files under \(Self.sourcesDirectory.path)")
        var long: [String] = []
        for file in files {
            let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).count - 1
            if lines > Self.maximumFileLines { long.append("\(file.lastPathComponent): \(lines) lines") }
        }
        #expect(long.isEmpty, "over \(Self.maximumFileLines) lines: \(long.joined(separator: "; "))")
    }

    @Test func noFunctionIsLongerThanTheLimit() throws {
        var measured = 0
        var long: [String] = []
        for file in try Self.swiftFiles() {
            for function in SwiftOutline(try String(contentsOf: file, encoding: .utf8)).functions() {
                measured += 1
                if function.lines > Self.maximumFunctionLines {
                    long.append("\(file.lastPathComponent):\(function.line) \(function.name): \(function.lines) lines")
                }
            }
        }
        #expect(measured > 1000, "measured only \(measured) functions")
        #expect(long.isEmpty, "over \(Self.maximumFunctionLines) lines: \(long.joined(separator: "; "))")
    }

    @Test func theOutlineMeasuresFunctionsPastStringsCommentsAndDefaultClosures() {
        let source = """
        struct S {
            // func commented() {
            init(onEvent: @escaping () -> Void = { }) {
                let s = "}\\("{")"
                /* { nested /* } */ */
            }
            func requirementLike()
            func body() -> Int {
                let raw = #"}"#
                let text = \"\"\"
                {
                \"\"\"
                return 1
            }
        }
        """
        let functions = SwiftOutline(source).functions()
        #expect(functions.map(\.name) == ["init", "func body"])
        #expect(functions.map(\.lines) == [4, 7])
        #expect(functions.map(\.line) == [3, 8])
    }
}

/// Just enough of Swift's lexical structure to find function bodies: comments (nested), string
/// literals (raw, multi-line, with interpolations) and balanced brackets.
struct SwiftOutline {
    struct Function: Equatable {
        var name: String
        var line: Int
        var lines: Int
    }

    /// The source with comments and string contents blanked (newlines kept, so lines still count).
    let code: [UInt8]
    /// Where each line starts in `code`.
    private let lineStarts: [Int]

    init(_ source: String) {
        var lexer = Lexer(bytes: Array(source.utf8))
        let code = lexer.blanked()
        self.code = code
        lineStarts = [0] + code.indices.filter { code[$0] == 0x0A }.map { $0 + 1 }
    }

    func functions() -> [Function] {
        var found: [Function] = []
        var i = 0
        while i < code.count {
            guard let (name, afterKeyword) = declaration(at: i) else { i += 1; continue }
            if let open = bodyStart(from: afterKeyword, insideParentheses: name == "init" && code[afterKeyword - 1] == UInt8(ascii: "(")),
               let close = matchingBrace(open) {
                let first = line(at: i), last = line(at: close)
                found.append(Function(name: name, line: first, lines: last - first + 1))
            }
            i = afterKeyword
        }
        return found
    }

    private func isIdentifier(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
    }

    private func word(at i: Int, _ w: String) -> Bool {
        let bytes = Array(w.utf8)
        guard i + bytes.count <= code.count, Array(code[i..<(i + bytes.count)]) == bytes else { return false }
        if i > 0, isIdentifier(code[i - 1]) || code[i - 1] == UInt8(ascii: ".") { return false }
        return i + bytes.count == code.count || !isIdentifier(code[i + bytes.count])
    }

    /// `func name`, `init(`, `init?(`, `init<` or `deinit` at `i`: its name and where to go on.
    private func declaration(at i: Int) -> (String, Int)? {
        if word(at: i, "func") {
            var j = i + 4
            while j < code.count, code[j] == UInt8(ascii: " ") { j += 1 }
            var k = j
            while k < code.count, !Set(" (<\n".utf8).contains(code[k]) { k += 1 }
            return ("func " + String(decoding: code[j..<k], as: UTF8.self), k)
        }
        if word(at: i, "deinit") { return ("deinit", i + 6) }
        if i + 4 < code.count, code[i..<(i + 4)].elementsEqual("init".utf8), i == 0 || !(isIdentifier(code[i - 1]) || code[i - 1] == UInt8(ascii: ".")) {
            var j = i + 4
            if j < code.count, code[j] == UInt8(ascii: "?") || code[j] == UInt8(ascii: "!") { j += 1 }
            if j < code.count, code[j] == UInt8(ascii: "(") || code[j] == UInt8(ascii: "<") { return ("init", j + 1) }
        }
        return nil
    }

    /// The `{` opening the body after a signature; nil for a declaration without one.
    private func bodyStart(from start: Int, insideParentheses: Bool) -> Int? {
        var depth = insideParentheses ? 1 : 0
        var i = start
        while i < code.count {
            switch code[i] {
            case UInt8(ascii: "("), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: ")"), UInt8(ascii: "]"): depth -= 1
            case UInt8(ascii: "{") where depth == 0: return i
            case UInt8(ascii: "}") where depth == 0: return nil
            default:
                if depth == 0, ["func", "var", "let", "case", "init", "deinit"].contains(where: { word(at: i, $0) }) { return nil }
            }
            i += 1
        }
        return nil
    }

    private func matchingBrace(_ open: Int) -> Int? {
        var depth = 0
        for i in open..<code.count {
            if code[i] == UInt8(ascii: "{") { depth += 1 }
            if code[i] == UInt8(ascii: "}") {
                depth -= 1
                if depth == 0 { return i }
            }
        }
        return nil
    }

    /// The 1-based line of offset `i`.
    private func line(at i: Int) -> Int {
        var (low, high) = (0, lineStarts.count)
        while high - low > 1 {
            let mid = (low + high) / 2
            if lineStarts[mid] <= i { low = mid } else { high = mid }
        }
        return low + 1
    }

    /// Blanks comments and string contents.
    struct Lexer {
        let bytes: [UInt8]
        var i = 0
        var out: [UInt8] = []

        init(bytes: [UInt8]) { self.bytes = bytes }

        func at(_ k: Int) -> UInt8 { k < bytes.count ? bytes[k] : 0 }
        func starts(_ s: String, at k: Int) -> Bool { k + s.utf8.count <= bytes.count && bytes[k..<(k + s.utf8.count)].elementsEqual(s.utf8) }
        func stringStart(at k: Int) -> Bool {
            var j = k
            while at(j) == UInt8(ascii: "#") { j += 1 }
            return at(j) == UInt8(ascii: "\"")
        }

        mutating func blanked() -> [UInt8] {
            while i < bytes.count {
                if starts("//", at: i) {
                    while i < bytes.count, bytes[i] != 0x0A { i += 1 }
                } else if starts("/*", at: i) {
                    skipBlockComment()
                } else if stringStart(at: i) {
                    out.append(contentsOf: "\"\"".utf8)
                    skipString()
                } else {
                    out.append(bytes[i])
                    i += 1
                }
            }
            return out
        }

        mutating func skipBlockComment() {
            var depth = 0
            while i < bytes.count {
                if starts("/*", at: i) { depth += 1; i += 2; continue }
                if starts("*/", at: i) {
                    depth -= 1
                    i += 2
                    if depth == 0 { return }
                    continue
                }
                if bytes[i] == 0x0A { out.append(0x0A) }
                i += 1
            }
        }

        mutating func skipString() {
            var hashes = 0
            while at(i) == UInt8(ascii: "#") { hashes += 1; i += 1 }
            let quotes = starts("\"\"\"", at: i) ? 3 : 1
            i += quotes
            let close = Array(repeating: UInt8(ascii: "\""), count: quotes) + Array(repeating: UInt8(ascii: "#"), count: hashes)
            while i < bytes.count {
                if bytes[i...].starts(with: close) { i += close.count; return }
                if bytes[i] == UInt8(ascii: "\\"), (0..<hashes).allSatisfy({ at(i + 1 + $0) == UInt8(ascii: "#") }) {
                    let k = i + 1 + hashes
                    if at(k) == UInt8(ascii: "(") {
                        i = k + 1
                        skipInterpolation()
                    } else {
                        i = k + 1
                    }
                    continue
                }
                if bytes[i] == 0x0A { out.append(0x0A) }
                i += 1
            }
        }

        /// Code inside `\( … )`, which may hold strings of its own.
        mutating func skipInterpolation() {
            var depth = 0
            while i < bytes.count {
                if stringStart(at: i) { skipString(); continue }
                switch bytes[i] {
                case UInt8(ascii: "("): depth += 1
                case UInt8(ascii: ")"):
                    if depth == 0 { i += 1; return }
                    depth -= 1
                case 0x0A: out.append(0x0A)
                default: break
                }
                i += 1
            }
        }
    }
}
