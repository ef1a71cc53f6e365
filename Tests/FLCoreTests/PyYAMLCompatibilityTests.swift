import FLCore
import Foundation
import Testing

/// Whatever our parser accepts, PyYAML (OpenFL's reader) must read to the same value: same types
/// (an int is never a float), same strings, same structure.
@Suite struct PyYAMLCompatibilityTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test(.disabled(if: PyYAMLReader.skipped, "SWIFTFL_SKIP_PYTHON=1"))
    func validDocumentsMeanTheSameToPyYAML() async throws {
        let docs = YAMLCorpus.valid
        let theirs = try await PyYAMLReader.read(texts: docs.map(\.text))
        for (doc, outcome) in zip(docs, theirs) {
            let ours = try YAMLParser.parse(text: doc.text, file: "t.yaml")
            #expect(outcome == .value(ours), "\(doc.name): PyYAML read \(Self.show(outcome)), we read \(Self.show(.value(ours)))")
        }
    }

    /// What `yamlText()` writes, PyYAML reads back to the value it was written from.
    @Test(.disabled(if: PyYAMLReader.skipped, "SWIFTFL_SKIP_PYTHON=1"))
    func printedYAMLMeansTheSameToPyYAML() async throws {
        var nodes = try YAMLCorpus.valid.map { try YAMLParser.parse(text: $0.text, file: "t.yaml") }
        var awkward = PlanMapping()
        for (i, s) in ["", " a", "yes", "y", "017", "0o17", "1e3", "2024-01-01", "<<", "=", "- x", "a: b", "#x", "\t", "\u{85}", "\u{2028}",
                       "\u{FEFF}", "\u{0}", "\u{7F}", "\u{9F}", "é😀", "'\"", "---", "...", "a #b", "x:", "[a]", "~", "null", "True"].enumerated() {
            awkward[s] = PlanNode(.string(s + "\(i)"))
        }
        nodes.append(PlanNode(.mapping(awkward)))
        nodes.append([PlanNode(.float(1e-5)), PlanNode(.float(1e16)), PlanNode(.float(-0.0)), PlanNode(.float(.leastNonzeroMagnitude)),
                      PlanNode(.float(.greatestFiniteMagnitude)), PlanNode(.int(.min)), PlanNode(.float(0.1))])
        let theirs = try await PyYAMLReader.read(texts: nodes.map { $0.yamlText() })
        for (node, outcome) in zip(nodes, theirs) {
            #expect(outcome == .value(node), "\(node.yamlText()): PyYAML read \(Self.show(outcome))")
        }
    }

    /// Short scalars built from the characters that make numbers, dates and sexagesimals, plus the
    /// words YAML 1.1 treats specially: each one we accept must resolve exactly as PyYAML resolves it.
    @Test(.disabled(if: PyYAMLReader.skipped, "SWIFTFL_SKIP_PYTHON=1"))
    func acceptedScalarsResolveAsPyYAMLResolvesThem() async throws {
        var scalars: [String] = []
        let alphabet = Array("0178+-._:eExob")
        scalars += alphabet.map { String($0) }
        for a in alphabet { for b in alphabet { scalars.append(String([a, b])) } }
        for a in alphabet { for b in alphabet { for c in alphabet { scalars.append(String([a, b, c])) } } }
        for sign in ["", "+", "-"] {
            for whole in ["", "0", "1", "01", "1_0", "12"] {
                for dot in ["", "."] {
                    for fraction in ["", "5", "_5", "50"] {
                        for e in ["", "e", "E"] {
                            for expSign in ["", "+", "-"] {
                                for expDigits in ["", "3", "03"] { scalars.append(sign + whole + dot + fraction + e + expSign + expDigits) }
                            }
                        }
                    }
                }
            }
        }
        scalars += ["yes", "No", "ON", "off", "y", "N", "true", "True", "TRUE", "tRue", "null", "Null", "NULL", "nUll", "~",
                    ".inf", ".Inf", ".INF", "-.inf", "+.inf", ".nan", ".NaN", ".NAN", "-.nan", ".iNf", "inf", "nan", "NaN",
                    "0x1F", "0x1f", "-0x1F", "+0x1F", "0x", "0xG", "0X1F", "0o17", "0o8", "0b101", "-0b1", "0b2",
                    "1_000", "1__0", "_1", "1_", "190:20:30", "1:60", "1:59", "0:59", "00:30", "-1:30", "1:30.5", "1:30:",
                    "2024-01-31", "2024-1-31", "2024-01-31T10:00:00", "2024-1-3 1:02:03", "2024-01-31 10:00:00.5 +02:00",
                    "2024-01-31t10:00:00Z", "2024-01-31 10:00:00 -5", "2024-01-310", "1999-99-99", "2024-01-31x",
                    "<<", "=", "==", "<", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
                    "1.7976931348623157e+308", "1.0e+309", "4.9e-324", "1.0e-400", "127.0.0.1", "1.2.3", "v1.0"]
        let docs = scalars.map { "v: \($0)\n" }
        let theirs = try await PyYAMLReader.read(texts: docs)
        var accepted = 0, refused = 0
        for (scalar, (doc, outcome)) in zip(scalars, zip(docs, theirs)) {
            guard let ours = try? YAMLParser.parse(text: doc, file: "s.yaml") else {
                refused += 1
                continue
            }
            accepted += 1
            #expect(outcome == .value(ours), "\(scalar.debugDescription): PyYAML read \(Self.show(outcome)), we read \(Self.show(.value(ours)))")
        }
        #expect(accepted > 1000)
        #expect(refused > 100)
    }

    /// Every YAML file shipped in the repository reads the same with our parser and with PyYAML.
    @Test func repositoryYAMLFilesParseAndAgreeWithPyYAML() async throws {
        var files: [String] = []
        for directory in ["plans", "workspaces"] {
            let base = "\(Self.repositoryRoot)/\(directory)"
            guard let walker = FileManager.default.enumerator(atPath: base) else { continue }
            while let relative = walker.nextObject() as? String {
                if relative.hasSuffix(".yaml") || relative.hasSuffix(".yml") { files.append("\(base)/\(relative)") }
            }
        }
        files.sort()
        try #require(!files.isEmpty, "no *.yaml files found under \(Self.repositoryRoot)/plans or /workspaces")
        var ours: [PlanNode] = []
        for file in files {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
            ours.append(try YAMLParser.parse(bytes: bytes, file: file))
        }
        if PyYAMLReader.skipped { return }
        let theirs = try await PyYAMLReader.read(files: files)
        for (file, (mine, outcome)) in zip(files, zip(ours, theirs)) {
            #expect(outcome == .value(mine), "\(file): PyYAML read \(Self.show(outcome)), we read \(Self.show(.value(mine)))")
        }
    }

    static func show(_ outcome: PyYAMLReader.Outcome) -> String {
        switch outcome {
        case let .value(node): (try? node.canonicalJSON()) ?? node.yamlText()
        case let .error(message): "an error (\(message))"
        }
    }
}
