import FLCore
import Testing

@Suite struct JSONReaderTests {
    func parse(_ text: String, allowNonFinite: Bool = false) throws(PlanError) -> PlanNode {
        try PlanNode.parseJSON(Array(text.utf8), file: "j.json", allowNonFiniteNumbers: allowNonFinite)
    }

    @Test func readsValuesWithExactTypes() throws {
        let node = try parse(#" {"a": [1, -2, 3.5, 1e2, -0.0, 0, true, false, null, "s"], "b": {}, "c": []} "#)
        #expect(node == ["a": [1, -2, 3.5, 100.0, -0.0, 0, true, false, .null, "s"], "b": [:], "c": []])
        #expect(node.node(at: "a.3")?.asInt == nil)
        #expect(try parse("9223372036854775807") == PlanNode(.int(.max)))
        #expect(try parse("-9223372036854775808") == PlanNode(.int(.min)))
        #expect(try parse("1E+2") == 100.0)
        #expect(try parse("\u{FEFF}[]") == [])
    }

    @Test func readsStringEscapes() throws {
        #expect(try parse(#""q\"\\\/\b\f\n\r\t\u00e9\u00E9\ud83d\ude00\u0000""#) == PlanNode(.string("q\"\\/\u{8}\u{C}\n\r\téé😀\u{0}")))
        #expect(try parse("\"é😀 raw\"") == "é😀 raw")
    }

    @Test func keepsLocations() throws {
        let node = try parse("{\n  \"é\": [1,\n    \"x\"]}")
        #expect(node.node(at: "é")?.location == TextLocation(file: "j.json", line: 2, column: 8))
        #expect(node.node(at: "é.1")?.location == TextLocation(file: "j.json", line: 3, column: 5))
        #expect(node.asMapping?.entry(forKey: "é")?.keyLocation == TextLocation(file: "j.json", line: 2, column: 3))
    }

    @Test(arguments: [
        ("{\"a\" 1}", 1, 6, "expected ':' after the key"),
        ("[1,]", 1, 4, "expected a JSON value, found ']'"),
        ("[1 2]", 1, 4, "expected ',' or ']'"),
        ("{\"a\": 1,}", 1, 9, "expected a string key"),
        ("{\"a\": 1, \"a\": 2}", 1, 10, "duplicate key \"a\""),
        ("01", 1, 2, "expected the end of the JSON text"),
        ("1.", 1, 3, "expected a digit after '.'"),
        ("1e", 1, 3, "expected a digit in the exponent"),
        ("-", 1, 2, "expected a digit"),
        ("+1", 1, 1, "expected a JSON value"),
        ("9223372036854775808", 1, 1, "fits 64 bits"),
        ("1e400", 1, 1, "fits a 64-bit float"),
        ("NaN", 1, 1, "expected a JSON value"),
        ("\"abc", 1, 1, "expected a closing '\"'"),
        ("\"a\nb\"", 1, 3, "control character"),
        ("\"\\ud800\"", 1, 2, "expected a low surrogate escape"),
        ("\"\\ud800\\u0041\"", 1, 8, "expected a low surrogate"),
        ("\"\\udc00\"", 1, 2, "lone low surrogate"),
        ("\"\\x\"", 1, 2, "expected an escape sequence"),
        ("\"\\u12g4\"", 1, 6, "4 hexadecimal digits"),
        ("tru", 1, 1, "expected a JSON value"),
        ("[] []", 1, 4, "expected the end of the JSON text"),
        ("", 1, 1, "expected a JSON value, found the end of the input"),
    ])
    func rejectsInvalidJSON(_ text: String, _ line: Int, _ column: Int, _ fragment: String) {
        do {
            let node = try parse(text)
            Issue.record("accepted \(text.debugDescription) as \(node)")
        } catch {
            #expect(error.location == TextLocation(file: "j.json", line: line, column: column), "\(error)")
            #expect(error.description.contains(fragment), "\(error)")
        }
    }

    @Test func rejectsInvalidUTF8AndExcessiveNesting() {
        #expect(throws: PlanError.self) { try PlanNode.parseJSON([0x22, 0xFF, 0x22]) }
        #expect(throws: PlanError.self) { try PlanNode.parseJSON([0x22, 0xED, 0xA0, 0x80, 0x22]) }
        let depth = YAMLParser.maxDepth
        #expect(throws: Never.self) { try parse(String(repeating: "[", count: depth) + String(repeating: "]", count: depth)) }
        #expect(throws: PlanError.self) { try parse(String(repeating: "[", count: depth + 1) + String(repeating: "]", count: depth + 1)) }
    }

    @Test func nonFiniteNumbersOnlyWhenAllowed() throws {
        #expect(try parse("[NaN, Infinity, -Infinity]", allowNonFinite: true)
            == [PlanNode(.float(.nan)), PlanNode(.float(.infinity)), PlanNode(.float(-.infinity))])
        #expect(throws: PlanError.self) { try parse("[Infinity]") }
        #expect(throws: PlanError.self) { try parse("[-Infinity]") }
    }

    static func holdsNonFinite(_ node: PlanNode) -> Bool {
        switch node.value {
        case let .float(d): !d.isFinite
        case let .sequence(items): items.contains { holdsNonFinite($0) }
        case let .mapping(m): m.entries.contains { holdsNonFinite($0.value) }
        default: false
        }
    }

    /// YAML → canonical JSON → JSON reader gives the same value, for every finite valid document.
    @Test(arguments: YAMLCorpus.valid)
    func canonicalJSONReadsBackEqual(_ doc: ValidYAML) throws {
        let node = try YAMLParser.parse(text: doc.text, file: "t.yaml")
        guard let json = try? node.canonicalJSON() else {
            // Only NaN and infinity may refuse; check that the value holds one.
            #expect(Self.holdsNonFinite(node), "\(doc.text)")
            return
        }
        #expect(try PlanNode.parseJSON(Array(json.utf8)) == node)
        #expect(try PlanNode.parseJSON(Array(node.canonicalJSON(pretty: true).utf8)) == node)
    }
}
