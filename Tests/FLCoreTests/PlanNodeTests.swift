import FLCore
import Testing

@Suite struct PlanNodeTests {
    @Test func equalityIgnoresLocationsAndKeyOrder() throws {
        let parsed = try YAMLParser.parse(text: "b: [1, {c: x}]\na: 2.5", file: "e.yaml")
        let built: PlanNode = ["a": 2.5, "b": [1, ["c": "x"]]]
        #expect(parsed == built)
        #expect(parsed.hashValue == built.hashValue)
        #expect(parsed.location != nil && built.location == nil)
        #expect(Set([parsed, built]).count == 1)
        let reordered: PlanNode = ["b": [1, ["c": "x"]], "a": 2.5]
        #expect(reordered == built && reordered.hashValue == built.hashValue)
        // Sequence order matters.
        #expect(([1, 2] as PlanNode) != ([2, 1] as PlanNode))
    }

    @Test func numbersCompareByTypeAndValue() {
        #expect(PlanNode(1) != PlanNode(1.0))
        #expect(PlanNode(true) != PlanNode(1))
        #expect(PlanNode("1") != PlanNode(1))
        #expect(PlanNode(.float(.nan)) == PlanNode(.float(.nan)))
        #expect(PlanNode(.float(.nan)).hashValue == PlanNode(.float(-.nan)).hashValue)
        #expect(PlanNode(0.0) == PlanNode(-0.0))
        #expect(PlanNode(0.0).hashValue == PlanNode(-0.0).hashValue)
        #expect(PlanNode.null != PlanNode(""))
        #expect(([] as PlanNode) != ([:] as PlanNode))
    }

    @Test func mappingKeepsOrderAndIndex() {
        var m = PlanMapping()
        m["b"] = 1
        m["a"] = 2
        m["c"] = 3
        m.updateValue(20, forKey: "a", keyLocation: TextLocation(file: "f", line: 1, column: 1))
        #expect(m.keys == ["b", "a", "c"])
        #expect(m["a"] == 20)
        #expect(m.entry(forKey: "a")?.keyLocation?.line == 1)
        #expect(m.removeValue(forKey: "b") == 1)
        #expect(m.keys == ["a", "c"])
        #expect(m["c"] == 3 && m["b"] == nil && m.count == 2)
        m["a"] = nil
        #expect(m.keys == ["c"] && !m.contains("a"))
        #expect(Array(m.map(\.key)) == ["c"])
    }

    @Test func canonicalJSONIsCompactSortedAndExact() throws {
        let node: PlanNode = ["b": [1, 2.5, "x", .null, true], "a": ["z": [:], "y": []], "c": -0.0]
        #expect(try node.canonicalJSON() == #"{"a":{"y":[],"z":{}},"b":[1,2.5,"x",null,true],"c":-0.0}"#)
        #expect(try node.canonicalJSON(pretty: true) == """
            {
              "a": {
                "y": [],
                "z": {}
              },
              "b": [
                1,
                2.5,
                "x",
                null,
                true
              ],
              "c": -0.0
            }
            """)
    }

    @Test func canonicalJSONSortsKeysByCodePoint() throws {
        let keys = ["b", "a", "B", "é", "z", "aa", "😀", "ｚ", ""]
        var mapping = PlanMapping()
        for (i, key) in keys.enumerated() { mapping[key] = PlanNode(.int(i)) }
        // Code point order; UTF-16 order would put 😀 (D83D) before ｚ (FF5A).
        #expect(try PlanNode(.mapping(mapping)).canonicalJSON() == #"{"":8,"B":2,"a":1,"aa":5,"b":0,"z":4,"é":3,"ｚ":7,"😀":6}"#)
    }

    @Test func canonicalJSONEscapesStringsPerRFC8259() throws {
        let node = PlanNode(.string("q\"b\\s/\n\r\t\u{8}\u{C}\u{1}\u{1F}\u{7F}é😀\u{2028}"))
        #expect(try node.canonicalJSON() == "\"q\\\"b\\\\s/\\n\\r\\t\\b\\f\\u0001\\u001F\u{7F}é😀\u{2028}\"")
        #expect(try PlanNode.parseJSON(Array(node.canonicalJSON().utf8)) == node)
    }

    @Test(arguments: [
        (0.1, "0.1"), (1e-5, "1e-05"), (1e16, "1e+16"), (1e15, "1000000000000000.0"), (2.0, "2.0"), (-0.0, "-0.0"),
        (0.30000000000000004, "0.30000000000000004"), (Double.leastNonzeroMagnitude, "5e-324"),
        (Double.greatestFiniteMagnitude, "1.7976931348623157e+308"), (123456.789, "123456.789"),
    ])
    func canonicalJSONFloatsAreShortestRoundTrip(_ value: Double, _ text: String) throws {
        let json = try PlanNode(.float(value)).canonicalJSON()
        #expect(json == text)
        #expect(try PlanNode.parseJSON(Array(json.utf8)) == PlanNode(.float(value)))
        // And the YAML form reads back to the same double through both schemas' float syntax.
        let yaml = (["v": PlanNode(.float(value))] as PlanNode).yamlText()
        #expect(try YAMLParser.parse(text: yaml, file: "f.yaml") == ["v": PlanNode(.float(value))], "\(yaml)")
    }

    @Test func canonicalJSONRefusesNaNAndInfinityWithTheirPath() throws {
        let node = try YAMLParser.parse(text: "a:\n  b: [1, .nan]\nc: -.inf\n", file: "n.yaml")
        do {
            _ = try node.canonicalJSON()
            Issue.record("NaN was written as JSON")
        } catch {
            #expect(error.kind == .output)
            #expect(error.description == "n.yaml:2:10: a.b.1: expected a finite number for JSON, found float .nan; JSON has no NaN or infinity")
        }
        #expect(throws: PlanError.self) { try (["x": PlanNode(.float(-.infinity))] as PlanNode).canonicalJSON() }
    }

    @Test func yamlTextIsBlockStyleAndQuotesOnlyWhatItMust() {
        var mapping = PlanMapping()
        mapping["name"] = "plain text"
        mapping["list"] = [1, ["x": 1, "z": []], [2, "two"], [:]]
        mapping["nested"] = ["deeper": ["k": .null]]
        mapping["strings"] = ["1", "yes", "", " pad", "a: b", "#c", "line\nbreak\t\u{7}", "é", "-x", "~", "ok-ish_text/1.2.3"]
        mapping["numbers"] = [PlanNode(.int(-3)), 1.5, 1e-5, PlanNode(.float(.nan)), PlanNode(.float(-.infinity)), 1e16]
        mapping["key: with colon"] = true
        mapping["empty"] = [:]
        let text = PlanNode(.mapping(mapping)).yamlText()
        #expect(text == """
            name: plain text
            list:
              - 1
              - x: 1
                z: []
              - - 2
                - two
              - {}
            nested:
              deeper:
                k: null
            strings:
              - "1"
              - "yes"
              - ""
              - " pad"
              - "a: b"
              - "#c"
              - "line\\nbreak\\t\\a"
              - é
              - "-x"
              - "~"
              - ok-ish_text/1.2.3
            numbers:
              - -3
              - 1.5
              - 1.0e-05
              - .nan
              - -.inf
              - 1.0e+16
            "key: with colon": true
            empty: {}

            """)
    }

    @Test func yamlTextRoundTripsAwkwardStrings() throws {
        let strings = ["", " a", "a ", "yes", "No", "y", "1", "017", "0x1F", "1e3", "1.5", ".inf", "null", "~", "true", "2024-01-01",
                       "<<", "=", "-", "-x", "- x", "?", "? x", ":x", "a: b", "a:", "a #b", "a#b", "#x", "@x", "`x", "%x", "&x",
                       "*x", "!x", "|", ">", "'", "\"", "[a]", "{a}", "a,b", "---", "...", "--- x", "\t", "a\tb", "\n", "a\n",
                       "\r\n", "\u{85}", "\u{2028}", "\u{2029}", "\u{FEFF}", "\u{0}", "\u{7F}", "\u{9F}", "\u{A0}", "\u{FFFE}",
                       "é", "😀", "名前", "\\", "\\n", "a\u{301}", String(repeating: "long ", count: 100)]
        var mapping = PlanMapping()
        for (i, s) in strings.enumerated() { mapping[s] = PlanNode(.string(s + "!\(i)")) }
        let node: PlanNode = ["keys": PlanNode(.mapping(mapping)), "values": PlanNode(.sequence(strings.map { PlanNode(.string($0)) }))]
        let text = node.yamlText()
        #expect(try YAMLParser.parse(text: text, file: "rt.yaml") == node, "\(text)")
    }

    @Test func summariesNameTypeAndValue() {
        #expect(PlanValue.int(3).summary == "integer 3")
        #expect(PlanValue.float(0.5).summary == "float 0.5")
        #expect(PlanValue.float(1e-5).summary == "float 1.0e-05")
        #expect(PlanValue.bool(false).summary == "boolean false")
        #expect(PlanValue.null.summary == "null")
        #expect(PlanValue.string("a\"b").summary == #"string "a\"b""#)
        #expect(PlanValue.string(String(repeating: "x", count: 50)).summary == "string \"\(String(repeating: "x", count: 40))…\"")
        #expect(PlanValue.sequence([]).summary == "an empty sequence")
        #expect(PlanValue.mapping(PlanMapping()).summary == "an empty mapping")
    }
}
