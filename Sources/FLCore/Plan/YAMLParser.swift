/// Reads plan files: a strict subset of YAML 1.2 that every YAML reader, including PyYAML (the
/// YAML 1.1 reader OpenFL uses), reads to the same value. Whatever falls outside the subset is an
/// error naming `file:line:column`, never a guess. docs/plan-format.md is the full description.
///
/// Supported:
/// - One document, optionally opened by a `---` line; an empty document is null.
/// - Block mappings (`key: value`) and block sequences (`- item`), nested by indentation with
///   spaces; a sequence may sit at the same indentation as its mapping key; sequence items may be
///   compact mappings (`- name: a`) or compact sequences (`- - a`).
/// - Flow sequences `[a, b]` and flow mappings `{k: v, k2}` (nested, trailing comma allowed,
///   spanning lines if continuation lines are indented more than the enclosing block; a closing
///   bracket may sit at the enclosing block's indentation).
/// - Plain scalars on one line; single-quoted (`''` is a quote) and double-quoted scalars (all
///   YAML escapes: `\0 \a \b \t \n \v \f \r \e \  \" \/ \\ \N \_ \L \P \xXX \uXXXX \UXXXXXXXX`,
///   and escaped line breaks), which may span lines with YAML's line folding.
/// - Comments: `#` at the start of a line or after a space.
/// - Plain scalars resolve by the YAML 1.2 core schema: null (`~ null Null NULL` and empty),
///   bool (`true True TRUE false False FALSE`), int (`[-+]?[0-9]+`, `0x[0-9a-fA-F]+`, 64-bit),
///   float (`[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, `[-+]?.inf`, `.nan`, any case
///   variant the schema lists); anything else is a string. Quoted scalars are always strings.
///
/// Rejected, with a message saying what to write instead:
/// - anchors `&`, aliases `*`, tags `!`, directives `%`, block scalars `|` `>`, complex keys `? `,
///   `key: value` pairs directly inside `[ ]`, document end `...`, a second document;
/// - tabs outside quoted scalars and comments; inconsistent indentation; multi-line plain scalars;
/// - duplicate keys, keys that are not strings (`1:`, `null:`, `[a]:`), keys spanning lines or
///   longer than 1024 characters;
/// - unterminated quotes and brackets, content after a closed flow collection or quoted scalar;
/// - plain scalars a YAML 1.1 reader reads differently: `yes no on off y n` in any case, `<<`, `=`,
///   integers with a leading zero (`017`), `0o17`, `0b101`, `1_000`, `1:30`, `+0x1F`, dates and
///   timestamps, floats without a `.` or with an unsigned exponent (`1e3`, `1.5e3`), `+.5`;
/// - invalid UTF-8, non-printable characters, NEL/U+2028/U+2029 (line breaks in YAML 1.1 only),
///   a byte order mark other than at the very start;
/// - nesting deeper than `YAMLParser.maxDepth`.
public enum YAMLParser {
    /// Collections nested deeper than this are refused, so no input can exhaust the stack.
    public static let maxDepth = 64
    /// Longest implicit key, in characters, as YAML specifies.
    public static let maxKeyLength = 1024

    /// Parses `text`; locations in the result and in errors name `file`.
    public static func parse(text: String, file: String) throws(PlanError) -> PlanNode {
        try parse(bytes: Array(text.utf8), file: file)
    }

    /// Parses UTF-8 bytes (the fuzzing entry point): returns or throws for every input, never traps.
    public static func parse(bytes: some Collection<UInt8>, file: String) throws(PlanError) -> PlanNode {
        var parser = YAMLReader(bytes: Array(bytes), file: file)
        return try parser.parseDocument()
    }
}
