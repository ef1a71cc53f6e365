import FLCore
import FLTesting
import Testing

/// A document the parser must accept, with the exact value it must produce.
struct ValidYAML: CustomTestStringConvertible, Sendable {
    let name: String
    let text: String
    let expected: PlanNode
    init(_ name: String, _ text: String, _ expected: PlanNode) {
        self.name = name
        self.text = text
        self.expected = expected
    }
    var testDescription: String { name }
}

/// A document the parser must refuse, with where and (part of) what it must say.
struct InvalidYAML: CustomTestStringConvertible, Sendable {
    let text: String
    let line: Int
    let column: Int
    let fragment: String
    init(_ text: String, _ line: Int, _ column: Int, _ fragment: String) {
        self.text = text
        self.line = line
        self.column = column
        self.fragment = fragment
    }
    var testDescription: String { text.debugDescription }
}

enum YAMLCorpus {
    static let brief = """
        # comment
        aggregator:
          defaults: defaults/aggregator.yaml
          settings:
            rounds_to_train: 10
            best_metric: "aggregated_model_validation/accuracy"
            learning_rates: [0.1, 0.01]
            extra: {a: 1, 'b c': null}
        tasks:
          train:
            kwargs:
              epochs: 1
              metrics:
                - loss
                - accuracy
        """

    static let valid: [ValidYAML] = [
        ValidYAML("the example plan", brief, [
            "aggregator": [
                "defaults": "defaults/aggregator.yaml",
                "settings": [
                    "rounds_to_train": 10,
                    "best_metric": "aggregated_model_validation/accuracy",
                    "learning_rates": [0.1, 0.01],
                    "extra": ["a": 1, "b c": .null],
                ],
            ],
            "tasks": ["train": ["kwargs": ["epochs": 1, "metrics": ["loss", "accuracy"]]]],
        ]),
        // Core schema: null.
        ValidYAML("null ~", "a: ~", ["a": .null]),
        ValidYAML("null lower", "a: null", ["a": .null]),
        ValidYAML("null title", "a: Null", ["a": .null]),
        ValidYAML("null upper", "a: NULL", ["a": .null]),
        ValidYAML("empty value", "a:\nb: 1", ["a": .null, "b": 1]),
        ValidYAML("empty value, comment", "a:   # nothing\nb:", ["a": .null, "b": .null]),
        // Core schema: bool.
        ValidYAML("bools", "a: [true, True, TRUE, false, False, FALSE]", ["a": [true, true, true, false, false, false]]),
        ValidYAML("bool-like strings", "a: [tRUE, fAlse, nULL, Nulls, truey]", ["a": ["tRUE", "fAlse", "nULL", "Nulls", "truey"]]),
        // Core schema: int.
        ValidYAML("decimal ints", "a: [0, -0, +0, 7, -7, +7, 1234567890]", ["a": [0, 0, 0, 7, -7, 7, 1234567890]]),
        ValidYAML("hex ints", "a: [0x0, 0x1F, 0xff, 0xAbC]", ["a": [0, 31, 255, 0xABC]]),
        ValidYAML("int limits", "a: [9223372036854775807, -9223372036854775808, 0x7FFFFFFFFFFFFFFF]",
                  ["a": [PlanNode(.int(Int.max)), PlanNode(.int(Int.min)), PlanNode(.int(Int.max))]]),
        // Core schema: float.
        ValidYAML("floats", "a: [1.5, -1.5, +1.5, 1., .5, 0.5, 00.5, 10.0, -0.0]", ["a": [1.5, -1.5, 1.5, 1.0, 0.5, 0.5, 0.5, 10.0, -0.0]]),
        ValidYAML("exponents", "a: [1.0e+3, 1.0E-3, 1.e+5, .5e-2, 2.5e+0, 6.02e+23]", ["a": [1000.0, 0.001, 100000.0, 0.005, 2.5, 6.02e23]]),
        ValidYAML("infinities", "a: [.inf, .Inf, .INF, +.inf, -.inf, -.Inf, -.INF]",
                  ["a": [PlanNode(.float(.infinity)), PlanNode(.float(.infinity)), PlanNode(.float(.infinity)), PlanNode(.float(.infinity)),
                         PlanNode(.float(-.infinity)), PlanNode(.float(-.infinity)), PlanNode(.float(-.infinity))]]),
        ValidYAML("nans", "a: [.nan, .NaN, .NAN]", ["a": [PlanNode(.float(.nan)), PlanNode(.float(.nan)), PlanNode(.float(.nan))]]),
        ValidYAML("shortest float digits", "a: 0.1\nb: 0.30000000000000004\nc: 5.0e-324\nd: 1.7976931348623157e+308",
                  ["a": 0.1, "b": 0.30000000000000004, "c": PlanNode(.float(.leastNonzeroMagnitude)), "d": 1.7976931348623157e308]),
        // Strings that look a little like other types but are strings to every reader.
        ValidYAML("number-like strings", "a: [1.2.3, 127.0.0.1, 0x, 0xG, +, ., -.nan, +.nan, .infinity, 12:60, 1e, e5, 1.0e, 0o]",
                  ["a": ["1.2.3", "127.0.0.1", "0x", "0xG", "+", ".", "-.nan", "+.nan", ".infinity", "12:60", "1e", "e5", "1.0e", "0o"]]),
        ValidYAML("plain strings", "a: hello world\nb: a  b   c\nc: -foo\nd: ?foo\ne: :foo\nf: a:b\ng: a#b\nh: http://x.org/p?q=1#frag\ni: C:\\dir\\file",
                  ["a": "hello world", "b": "a  b   c", "c": "-foo", "d": "?foo", "e": ":foo", "f": "a:b", "g": "a#b",
                   "h": "http://x.org/p?q=1#frag", "i": "C:\\dir\\file"]),
        ValidYAML("block plain with brackets", "a: x]y\nb: a,b\nc: f(x) {y}", ["a": "x]y", "b": "a,b", "c": "f(x) {y}"]),
        ValidYAML("trailing spaces", "a: value   \nb: 1   # c", ["a": "value", "b": 1]),
        ValidYAML("unicode", "名前: 値\nemoji: 😀 ok\né: [ü, \"ß\"]\nnbsp: a\u{A0}b", ["名前": "値", "emoji": "😀 ok", "é": ["ü", "ß"], "nbsp": "a\u{A0}b"]),
        // Quoted scalars.
        ValidYAML("quoted are strings", "a: ['1', \"true\", 'null', \"\", '', 'yes', \"017\", '~', \"1e3\"]",
                  ["a": ["1", "true", "null", "", "", "yes", "017", "~", "1e3"]]),
        ValidYAML("single-quote escape", "a: 'it''s'\nb: ''''\nc: 'back\\slash \"q\"'", ["a": "it's", "b": "'", "c": "back\\slash \"q\""]),
        ValidYAML("double-quote escapes", "a: \"\\0\\a\\b\\t\\\t\\n\\v\\f\\r\\e\\ \\\"\\/\\\\\\N\\_\\L\\P\"",
                  ["a": PlanNode(.string("\u{0}\u{7}\u{8}\t\t\n\u{B}\u{C}\r\u{1B} \"/\\\u{85}\u{A0}\u{2028}\u{2029}"))]),
        ValidYAML("hex escapes", #"a: "\x41\xe9\u00e9\u263A\U0001F600\U0000004a""#, ["a": "Aéé☺😀J"]),
        ValidYAML("comment chars in quotes", "a: '# not a comment' # a comment\nb: \"x #y\"", ["a": "# not a comment", "b": "x #y"]),
        ValidYAML("quoted with colon", "a: 'b: c'\n'd: e': f", ["a": "b: c", "d: e": "f"]),
        ValidYAML("multi-line single quoted", "a: 'one\n  two\n\n  three\n\n\n  four'", ["a": "one two\nthree\n\nfour"]),
        ValidYAML("multi-line double quoted", "a: \"one \n   two\t\n  three\"", ["a": "one two three"]),
        ValidYAML("escaped line break", "a: \"one \\\n  two\\\n\n  three\"", ["a": "one two\nthree"]),
        ValidYAML("quoted in sequence, multi-line", "- \"a\n  b\"\n- 'c'", ["a b", "c"]),
        // Flow collections.
        ValidYAML("flow sequences", "a: [a, b c, 'd', \"e\", 1, [2, [3, []]]]", ["a": ["a", "b c", "d", "e", 1, [2, [3, []]]]]),
        ValidYAML("flow mappings", "a: {x: 1, 'y z': [1, 2], \"w\": {v: null}, e: {}}", ["a": ["x": 1, "y z": [1, 2], "w": ["v": .null], "e": [:]]]),
        ValidYAML("flow mapping keys without values", "a: {b, c: 1, d}", ["a": ["b": .null, "c": 1, "d": .null]]),
        ValidYAML("flow empty value", "a: {b: , c: 1, d:}", ["a": ["b": .null, "c": 1, "d": .null]]),
        ValidYAML("flow trailing commas", "a: [1, 2, ]\nb: {x: 1,}", ["a": [1, 2], "b": ["x": 1]]),
        ValidYAML("json-like flow", #"a: {"k":1, "l":[true,false,null], "m":"s"}"#, ["a": ["k": 1, "l": [true, false, .null], "m": "s"]]),
        ValidYAML("flow plain with colon inside", "a: [http://x, a:b]\nb: {u: http://x}", ["a": ["http://x", "a:b"], "b": ["u": "http://x"]]),
        ValidYAML("flow across lines", "a: [1,\n  2,\n    3]\nb: {\n  c: 1,\n  d: [p, q]\n}\ne: [\n  f,\n]", ["a": [1, 2, 3], "b": ["c": 1, "d": ["p", "q"]], "e": ["f"]]),
        ValidYAML("flow with comments", "a: [1, # one\n  2  # two\n  ]", ["a": [1, 2]]),
        ValidYAML("flow value on next line", "a: {b:\n   1}", ["a": ["b": 1]]),
        ValidYAML("top-level flow", "[1, {a: b}]", [1, ["a": "b"]]),
        ValidYAML("top-level flow mapping across lines", "{a: 1,\nb: 2}", ["a": 1, "b": 2]),
        // Block structure.
        ValidYAML("nested mappings", "a:\n  b:\n    c: 1\n  d: 2\ne: 3", ["a": ["b": ["c": 1], "d": 2], "e": 3]),
        ValidYAML("four-space indentation", "a:\n    b:\n        c: 1\n    d: 2", ["a": ["b": ["c": 1], "d": 2]]),
        ValidYAML("mixed widths per level", "a:\n  b:\n       c: 1\n  d:\n   - x", ["a": ["b": ["c": 1], "d": ["x"]]]),
        ValidYAML("sequence at key indentation", "a:\n- 1\n- 2\nb: 3", ["a": [1, 2], "b": 3]),
        ValidYAML("indented sequence", "a:\n  - 1\n  - 2\nb: 3", ["a": [1, 2], "b": 3]),
        ValidYAML("sequence of mappings", "- name: a\n  value: 1\n- name: b\n  value: [2]\n-   p: 1\n    q: 2",
                  [["name": "a", "value": 1], ["name": "b", "value": [2]], ["p": 1, "q": 2]]),
        ValidYAML("sequence of mappings with sequences at key indentation", "- a:\n  - x\n  b: 1\n- c", [["a": ["x"], "b": 1], "c"]),
        ValidYAML("compact nested sequences", "- - a\n  - b\n- - - c", [["a", "b"], [["c"]]]),
        ValidYAML("null items", "-\n- a\n-   # empty\n- ~", [.null, "a", .null, .null]),
        ValidYAML("item on the next line", "-\n  a: 1\n  b: 2\n-\n  - x", [["a": 1, "b": 2], ["x"]]),
        ValidYAML("value on the next line", "a:\n  plain\nb:\n  'quoted'\nc:\n  [1]", ["a": "plain", "b": "quoted", "c": [1]]),
        ValidYAML("keys with spaces and quotes", "a b: 1\n'c: d': 2\n\"e\": 3\nf   : 4\n\"g\"  : 5", ["a b": 1, "c: d": 2, "e": 3, "f": 4, "g": 5]),
        ValidYAML("indented top-level mapping", "  a: 1\n  b: 2\n", ["a": 1, "b": 2]),
        ValidYAML("comments and blank lines", "# head\n\n  # indented comment\na: 1 # trailing\n   \n# between\nb:\n  # inside\n  c: 2\n# tail\n",
                  ["a": 1, "b": ["c": 2]]),
        ValidYAML("dash-like values", "a: ---\nb: -1\nc: '-'\nd: --x\ne:\n  ---", ["a": "---", "b": -1, "c": "-", "d": "--x", "e": "---"]),
        // Documents.
        ValidYAML("empty document", "", .null),
        ValidYAML("only comments", "# nothing here\n\n   # still nothing\n", .null),
        ValidYAML("document start", "---\na: 1", ["a": 1]),
        ValidYAML("document start after comments", "# c\n--- # start\na: 1\n", ["a": 1]),
        ValidYAML("only document start", "---\n", .null),
        ValidYAML("top-level scalar", "hello", "hello"),
        ValidYAML("top-level quoted", "  'x'  # c\n", "x"),
        ValidYAML("top-level sequence", "- 1\n- two", [1, "two"]),
        ValidYAML("byte order mark", "\u{FEFF}a: 1", ["a": 1]),
        ValidYAML("CRLF line ends", "a: 1\r\nb:\r\n  - x\r\n  - 'y\r\n   z'\r\n", ["a": 1, "b": ["x", "y z"]]),
        ValidYAML("CR line ends", "a: 1\rb: [2,\r  3]\r", ["a": 1, "b": [2, 3]]),
        ValidYAML("no final newline", "a: [1, 2]", ["a": [1, 2]]),
        ValidYAML("tabs inside quotes and comments", "a: \"x\ty\" # tab\there\nb: 'p\tq'\n#\t\n", ["a": "x\ty", "b": "p\tq"]),
    ]

    static let invalid: [InvalidYAML] = [
        InvalidYAML("a: &x 1", 1, 4, "anchor"),
        InvalidYAML("a: *x", 1, 4, "alias"),
        InvalidYAML("a: !!str 1", 1, 4, "tag"),
        InvalidYAML("%YAML 1.2\n---\na: 1", 1, 1, "directive"),
        InvalidYAML("a: 1\n---\nb: 2", 2, 1, "second document"),
        InvalidYAML("---\na: 1\n--- \n", 3, 1, "second document"),
        InvalidYAML("a: 1\n...\n", 2, 1, "document end marker"),
        InvalidYAML("--- a: 1", 1, 5, "start the content on the next line"),
        InvalidYAML("a: |\n  text", 1, 4, "block scalar ('|')"),
        InvalidYAML("a: >\n  text", 1, 4, "block scalar ('>')"),
        InvalidYAML("a:\n\tb: 1", 2, 1, "found a tab (YAML does not allow tabs in indentation)"),
        InvalidYAML("a:\n  \tb: 1", 2, 3, "tabs in indentation"),
        InvalidYAML("a:\tb", 1, 3, "expected a space, found a tab"),
        InvalidYAML("a: b\tc", 1, 5, "found a tab"),
        InvalidYAML("- \tx", 1, 3, "found a tab"),
        InvalidYAML("a: 1\n\t\n", 2, 1, "tab"),
        InvalidYAML("a: [1,\t2]", 1, 7, "tab"),
        InvalidYAML("a: 1\nb: 2\na: 3", 3, 1, "duplicate key \"a\" (first defined at line 1, column 1)"),
        InvalidYAML("x:\n  a: 1\n  'a': 2", 3, 3, "duplicate key \"a\" (first defined at line 2, column 3)"),
        InvalidYAML("a: {b: 1, c: 2, b: 3}", 1, 17, "duplicate key \"b\" (first defined at line 1, column 5)"),
        InvalidYAML("? a\n: b", 1, 1, "complex key"),
        InvalidYAML("a: {? b}", 1, 5, "complex key"),
        InvalidYAML("[a]: 1", 1, 1, "expected a string key, found a flow sequence"),
        InvalidYAML("a: {[b]: 1}", 1, 5, "expected a string key, found a flow sequence"),
        InvalidYAML("{a: 1}: 2", 1, 1, "expected a string key, found a flow mapping"),
        InvalidYAML("1: a", 1, 1, "expected a string key, found integer 1; quote the key"),
        InvalidYAML("a:\n  true: 1", 2, 3, "expected a string key, found boolean true"),
        InvalidYAML("~: 1", 1, 1, "found null"),
        InvalidYAML("{1.5: a}", 1, 2, "found float 1.5"),
        InvalidYAML(": a", 1, 1, "a key is missing"),
        InvalidYAML("\"a\nb\": 1", 1, 1, "expected a key on a single line"),
        InvalidYAML(String(repeating: "k", count: 1025) + ": 1", 1, 1, "at most 1024 characters"),
        InvalidYAML("a:\n  b: 1\n   c: 2", 3, 4, "expected a key at column 3"),
        InvalidYAML("a:\n  b: 1\n   c: 2", 3, 4, "a plain scalar cannot continue on the next line"),
        InvalidYAML("a:\n    b: 1\n  c: 2", 3, 3, "expected a key at column 1"),
        InvalidYAML("a: x\n  y", 2, 3, "a plain scalar cannot continue on the next line"),
        InvalidYAML("a: 'x'\n  y", 2, 3, "expected a key at column 1 (or less indentation, ending the mapping), found 'y' at column 3"),
        InvalidYAML("- a\n  - b", 2, 3, "expected '- ' at column 1"),
        InvalidYAML("a:\n- b\n  - c", 3, 3, "expected '- ' at column 1"),
        InvalidYAML("a:\n  - x\n  y: 1", 3, 3, "expected a key at column 1"),
        InvalidYAML("a: 1\n- b", 2, 1, "found a sequence entry '- ' in the mapping"),
        InvalidYAML("- a\nb: 1", 2, 1, "expected the end of the document"),
        InvalidYAML("hello\nworld", 2, 1, "a plain scalar cannot continue on the next line"),
        InvalidYAML("a\n: b", 2, 1, "expected the end of the document"),
        InvalidYAML("a: 1\nb", 2, 2, "expected ':' after the key"),
        InvalidYAML("a: b: c", 1, 5, "nested mapping"),
        InvalidYAML("a: - b", 1, 4, "sequence entry '- ' on the same line"),
        InvalidYAML("a: -", 1, 4, "sequence entry '- ' on the same line"),
        InvalidYAML("[a, b", 1, 1, "expected ']' to close the flow sequence that starts here"),
        InvalidYAML("a:\n  b: {c: [1, 2]", 2, 6, "expected '}' to close the flow mapping that starts here"),
        InvalidYAML("a: 'abc", 1, 4, "expected a closing ' for the single-quoted string"),
        InvalidYAML("a: \"abc\\\"", 1, 4, "expected a closing \" for the double-quoted string"),
        InvalidYAML("a: 'it''s", 1, 4, "closing '"),
        InvalidYAML("[a] x", 1, 5, "expected the end of the line after the flow sequence, found 'x'"),
        InvalidYAML("a: {b: 1} x", 1, 11, "after the flow mapping, found 'x'"),
        InvalidYAML("a: 'x' y", 1, 8, "after the single-quoted string, found 'y'"),
        InvalidYAML("a: 'x'y", 1, 7, "expected a space, ',' or the end of the line after the single-quoted string, found 'y'"),
        InvalidYAML("a: 'x'#c", 1, 7, "found '#'"),
        InvalidYAML("a: [x]#c", 1, 7, "expected a space before '#'"),
        InvalidYAML("\"a\":b", 1, 4, "expected the end of the line after the double-quoted string, found ':'"),
        InvalidYAML("a: [b, c: d]", 1, 9, "'key: value' pairs directly inside '[ ]' are not supported"),
        InvalidYAML("a: [\"b\":c]", 1, 8, "'key: value' pairs"),
        InvalidYAML("a: [1,#c\n]", 1, 7, "expected a space before '#'"),
        InvalidYAML("a: [1,\n2]", 2, 1, "indented at least 1 space, found 0"),
        InvalidYAML("a:\n  b: [1,\n  2]", 3, 3, "indented at least 3 spaces, found 2"),
        InvalidYAML("a: 'x\ny'", 2, 1, "indented at least 1 space, found 0"),
        InvalidYAML("a: \"x\n\ty\"", 2, 1, "tab"),
        InvalidYAML("- \"a\n---\nb\"", 2, 1, "document marker"),
        InvalidYAML("[a,\n---\n]", 2, 1, "document marker"),
        InvalidYAML("a: [a\n  b]", 2, 3, "a plain scalar cannot continue on the next line"),
        InvalidYAML("a: {b\n : 1}", 2, 2, "on a later line than its key"),
        InvalidYAML("a: {b: 1 c: 2}", 1, 11, "expected ',' or '}'"),
        InvalidYAML("a: \"x\"\t# c", 1, 7, "found a tab"),
        InvalidYAML("a: [1 # c\n  2]", 2, 3, "expected ',' or ']'"),
        InvalidYAML("[- a]", 1, 2, "block sequence entries ('- ') are not allowed inside a flow collection"),
        InvalidYAML("[-]", 1, 2, "found '-' alone"),
        InvalidYAML("[a?b]", 1, 3, "found '?' inside a plain scalar in a flow collection"),
        InvalidYAML("[:x]", 1, 2, "starting with ':'"),
        InvalidYAML("[, a]", 1, 2, "expected a value, found ','"),
        InvalidYAML("a: ]", 1, 4, "expected a value, found ']'"),
        InvalidYAML("a: @x", 1, 4, "reserved"),
        InvalidYAML("a: `x", 1, 4, "reserved"),
        InvalidYAML("a: %x", 1, 4, "'%'"),
        // YAML 1.1 ambiguities.
        InvalidYAML("a: yes", 1, 4, "'yes' is a boolean in YAML 1.1"),
        InvalidYAML("a: No", 1, 4, "write true or false, or quote it"),
        InvalidYAML("a: ON", 1, 4, "boolean in YAML 1.1"),
        InvalidYAML("a: oFf", 1, 4, "boolean in YAML 1.1"),
        InvalidYAML("a: y", 1, 4, "boolean in YAML 1.1"),
        InvalidYAML("a: [N]", 1, 5, "boolean in YAML 1.1"),
        InvalidYAML("yes: 1", 1, 1, "boolean in YAML 1.1"),
        InvalidYAML("a: 017", 1, 4, "'017' has a leading zero"),
        InvalidYAML("a: -017", 1, 4, "leading zero"),
        InvalidYAML("a: 00", 1, 4, "leading zero"),
        InvalidYAML("a: 08", 1, 4, "an integer in YAML 1.2 but a string in YAML 1.1"),
        InvalidYAML("a: 1_000", 1, 4, "'1_000' is an integer in YAML 1.1 (PyYAML) but a string in YAML 1.2"),
        InvalidYAML("a: 1_000.5", 1, 4, "a float in YAML 1.1"),
        InvalidYAML("a: 0b101", 1, 4, "an integer in YAML 1.1"),
        InvalidYAML("a: 0o17", 1, 4, "'0o17' is an integer in YAML 1.2 but a string in YAML 1.1"),
        InvalidYAML("a: +0x1F", 1, 4, "an integer in YAML 1.1"),
        InvalidYAML("a: 0x_1F", 1, 4, "an integer in YAML 1.1"),
        InvalidYAML("a: 1:30", 1, 4, "'1:30' is an integer in YAML 1.1"),
        InvalidYAML("a: 1:30.5", 1, 4, "a float in YAML 1.1"),
        InvalidYAML("<<: {a: 1}", 1, 1, "merge key"),
        InvalidYAML("a: =", 1, 4, "special meaning in YAML 1.1"),
        InvalidYAML("a: 2024-01-31", 1, 4, "date or timestamp"),
        InvalidYAML("a: 2001-12-14t21:59:43.10-05:00", 1, 4, "date or timestamp"),
        InvalidYAML("a: 2001-12-14 21:59:43.10 -5", 1, 4, "date or timestamp"),
        InvalidYAML("a: 2002-1-2T3:04:05Z", 1, 4, "date or timestamp"),
        InvalidYAML("a: 1e3", 1, 4, "'1e3' is a float in YAML 1.2 but a string in YAML 1.1"),
        InvalidYAML("a: 1.5e3", 1, 4, "a float in YAML 1.2"),
        InvalidYAML("a: +.5", 1, 4, "a float in YAML 1.2"),
        InvalidYAML("a: -.5e+1", 1, 4, "a float in YAML 1.2"),
        InvalidYAML("a: 99999999999999999999", 1, 4, "too large for 64 bits"),
        InvalidYAML("a: -9223372036854775809", 1, 4, "too large for 64 bits"),
        InvalidYAML("a: 0x10000000000000000", 1, 4, "too large for 64 bits"),
        InvalidYAML("a: 1.0e+400", 1, 4, "a float too large"),
        // Escapes.
        InvalidYAML(#"a: "x\qy""#, 1, 6, "expected an escape sequence"),
        InvalidYAML(#"a: "\ud800""#, 1, 5, "surrogate"),
        InvalidYAML(#"a: "\U00110000""#, 1, 5, "beyond U+10FFFF"),
        InvalidYAML(#"a: "\x4""#, 1, 5, "expected 2 hexadecimal digits after '\\x', found '\"'"),
        // Text.
        InvalidYAML("a: b\u{7}", 1, 5, "control character U+0007"),
        InvalidYAML("a: \"\u{1B}\"", 1, 5, "control character"),
        InvalidYAML("a: x\u{85}y", 1, 5, "U+0085"),
        InvalidYAML("a:\n  b: x\u{2028}", 2, 7, "U+2028"),
        InvalidYAML("a: \u{FEFF}b", 1, 4, "byte order mark"),
        InvalidYAML("é: \u{9F}", 1, 4, "non-printable character U+009F"),
        InvalidYAML("a: \u{7F}", 1, 4, "control character U+007F"),
        // Nesting.
        InvalidYAML(String(repeating: "[", count: 65) + String(repeating: "]", count: 65), 1, 65, "at most 64 levels of nesting"),
    ]
}

@Suite struct YAMLParserTests {
    @Test(arguments: YAMLCorpus.valid)
    func parsesValidDocument(_ doc: ValidYAML) throws {
        let node = try YAMLParser.parse(text: doc.text, file: "t.yaml")
        #expect(node == doc.expected, "\(doc.name): got \((try? node.canonicalJSON()) ?? node.yamlText())")
    }

    @Test(arguments: YAMLCorpus.invalid)
    func rejectsInvalidDocument(_ doc: InvalidYAML) {
        do {
            let node = try YAMLParser.parse(text: doc.text, file: "bad.yaml")
            Issue.record("accepted \(doc.text.debugDescription) as \(node.yamlText())")
        } catch {
            #expect(error.kind == .syntax)
            #expect(error.location == TextLocation(file: "bad.yaml", line: doc.line, column: doc.column), "\(error)")
            #expect(error.description.hasPrefix("bad.yaml:\(doc.line):\(doc.column): "), "\(error)")
            #expect(error.description.contains(doc.fragment), "\(error)")
        }
    }

    @Test(arguments: YAMLCorpus.valid)
    func printedYAMLReadsBackEqual(_ doc: ValidYAML) throws {
        let node = try YAMLParser.parse(text: doc.text, file: "t.yaml")
        let printed = node.yamlText()
        let again = try YAMLParser.parse(text: printed, file: "printed.yaml")
        #expect(again == node, "\(doc.name) printed as:\n\(printed)")
        #expect(again.yamlText() == printed)
    }

    @Test func invalidUTF8IsAnErrorWithItsPosition() {
        let cases: [([UInt8], Int, Int)] = [
            (Array("a: ".utf8) + [0xFF], 1, 4),
            (Array("a: x\nbé: ".utf8) + [0xC3], 2, 5),       // truncated sequence
            (Array("a: ".utf8) + [0xC0, 0xAF], 1, 4),         // overlong '/'
            (Array("a: ".utf8) + [0xED, 0xA0, 0x80], 1, 4),   // encoded surrogate
            (Array("a: ".utf8) + [0xF4, 0x90, 0x80, 0x80], 1, 4),  // beyond U+10FFFF
        ]
        for (bytes, line, column) in cases {
            #expect {
                try YAMLParser.parse(bytes: bytes, file: "u.yaml")
            } throws: { error in
                let e = error as? PlanError
                return e?.location?.line == line && e?.location?.column == column && "\(error)".contains("invalid byte")
            }
        }
    }

    @Test func locationsPointAtEachValue() throws {
        let text = "# c\nagg:\n  rounds: 10\n  name: \"é\"\n  list:\n    - x\n    - {k: [1, 'v']}\n"
        let root = try YAMLParser.parse(text: text, file: "loc.yaml")
        func loc(_ path: String) -> String? { root.node(at: path)?.location.map { "\($0.line):\($0.column)" } }
        #expect(loc("agg") == "3:3")
        #expect(loc("agg.rounds") == "3:11")
        #expect(loc("agg.name") == "4:9")
        #expect(loc("agg.list") == "6:5")
        #expect(loc("agg.list.0") == "6:7")
        #expect(loc("agg.list.1") == "7:7")
        #expect(loc("agg.list.1.k") == "7:11")
        #expect(loc("agg.list.1.k.1") == "7:15")
        let keys = root.asMapping?.entry(forKey: "agg")?.value.asMapping?.entries.map { "\($0.keyLocation!.line):\($0.keyLocation!.column)" }
        #expect(keys == ["3:3", "4:3", "5:3"])
        // Columns count characters, not bytes.
        let wide = try YAMLParser.parse(text: "ключ: [éé, x]", file: "w.yaml")
        #expect(wide.node(at: "ключ.1")?.location == TextLocation(file: "w.yaml", line: 1, column: 12))
    }

    @Test func nestingUpToTheLimitIsAccepted() throws {
        let depth = YAMLParser.maxDepth
        let flow = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        var node = try YAMLParser.parse(text: flow, file: "deep.yaml")
        for _ in 1..<depth { node = node.asSequence![0] }
        #expect(node == [])
        var block = ""
        for level in 0..<depth { block += String(repeating: " ", count: level) + "k:\n" }
        #expect(try YAMLParser.parse(text: block, file: "deep.yaml").node(at: Array(repeating: "k", count: depth).joined(separator: ".")) == .null)
        #expect(throws: PlanError.self) { try YAMLParser.parse(text: block + String(repeating: " ", count: depth) + "k: 1", file: "deep.yaml") }
        #expect(throws: PlanError.self) { try YAMLParser.parse(text: String(repeating: "- ", count: depth + 1) + "x", file: "deep.yaml") }
    }

    /// A cheap stand-in for the fuzzer: mutations of valid documents and random bytes must end in a
    /// value or a `PlanError`, never a trap or a hang.
    @Test func mutatedInputsNeverCrash() {
        var rng = SplitMix64(state: 0x5EED)
        let alphabet = Array(" \n\t-:#'\"[]{},?!&*|>%@`\\.0123456789abxyz~éé\r".utf8)
        var accepted = 0, rejected = 0
        for doc in YAMLCorpus.valid + YAMLCorpus.valid {
            var bytes = Array(doc.text.utf8)
            for _ in 0..<8 {
                let op = rng.next() % 4
                let i = bytes.isEmpty ? 0 : Int(rng.next() % UInt64(bytes.count + 1))
                switch op {
                case 0: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: min(i, bytes.count))
                case 1: if i < bytes.count { bytes.remove(at: i) }
                case 2: if i < bytes.count { bytes[i] = UInt8(truncatingIfNeeded: rng.next()) }
                default: if i < bytes.count { bytes.insert(contentsOf: bytes[i..<min(bytes.count, i + 6)], at: i) }
                }
                if (try? YAMLParser.parse(bytes: bytes, file: "m.yaml")) != nil { accepted += 1 } else { rejected += 1 }
            }
        }
        for _ in 0..<2000 {
            let count = Int(rng.next() % 40)
            let bytes = (0..<count).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            if (try? YAMLParser.parse(bytes: bytes, file: "r.yaml")) != nil { accepted += 1 } else { rejected += 1 }
        }
        // Both outcomes must occur, or the mutations are not exercising the parser.
        #expect(accepted > 100)
        #expect(rejected > 100)
    }

    @Test func longLinesParseInLinearTime() throws {
        let items = (0..<50_000).map(String.init).joined(separator: ", ")
        let node = try YAMLParser.parse(text: "a: [\(items)]", file: "long.yaml")
        #expect(node.node(at: "a.49999") == 49_999)
        #expect(node.node(at: "a.49999")?.location?.column == 4 + items.count - 4)
        let big = String(repeating: "ab cd ", count: 200_000) + "x"
        let scalars = try YAMLParser.parse(text: "p: \(big)\nq: \"\(big)\"\nr: '\(big)'\n", file: "long.yaml")
        #expect(scalars == ["p": PlanNode(.string(big)), "q": PlanNode(.string(big)), "r": PlanNode(.string(big))])

        // Four times the input must take about four times the CPU, not sixteen (measured in CPU time,
        // best of three, so a busy machine does not decide the outcome).
        func cost(_ n: Int) throws -> Double {
            let text = "a: [" + (0..<n).map(String.init).joined(separator: ", ") + "]\np: " + String(repeating: "ab cd ", count: n) + "x\n"
            return try ThreadCPUTime.best { _ = try YAMLParser.parse(text: text, file: "long.yaml") }
        }
        let small = try cost(10_000), large = try cost(40_000)
        #expect(large / max(small, 1e-3) < 8, "10k items: \(small) s, 40k items: \(large) s")
    }
}
