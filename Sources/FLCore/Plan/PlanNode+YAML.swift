extension PlanNode {
    /// The value as block-style YAML that `YAMLParser` (and PyYAML) read back to an equal value:
    /// two-space indentation, compact `- key: value` items, `{}` and `[]` for empty collections,
    /// strings plain when they read back as the same string and double-quoted (with escapes)
    /// otherwise, floats with a `.` and a signed exponent, `.nan`/`.inf` for non-finite floats.
    /// Ends with a newline. Key order is kept. (A key longer than `YAMLParser.maxKeyLength`
    /// characters has no YAML form the parser accepts; such a key is written but will not read back.)
    public func yamlText() -> String {
        var out = ""
        YAMLWriter.block(self, indent: 0, firstLineIndented: true, into: &out)
        return out
    }
}

enum YAMLWriter {
    /// A node on its own lines at `indent`; when `firstLineIndented` is false the caller has already
    /// written the first line's prefix (`- `).
    static func block(_ node: PlanNode, indent: Int, firstLineIndented: Bool, into out: inout String) {
        var first = true
        func prefix() {
            if !first || firstLineIndented { out += String(repeating: " ", count: indent) }
            first = false
        }
        switch node.value {
        case let .mapping(mapping) where !mapping.isEmpty:
            for entry in mapping {
                prefix()
                out += YAMLScalarText.string(entry.key)
                out += ":"
                value(entry.value, indent: indent, into: &out)
            }
        case let .sequence(items) where !items.isEmpty:
            for item in items {
                prefix()
                out += "-"
                if isBlockCollection(item) {
                    out += " "
                    block(item, indent: indent + 2, firstLineIndented: false, into: &out)
                } else {
                    out += " " + scalar(item) + "\n"
                }
            }
        default:
            prefix()
            out += scalar(node) + "\n"
        }
    }

    /// The value after `key:`.
    static func value(_ node: PlanNode, indent: Int, into out: inout String) {
        if isBlockCollection(node) {
            out += "\n"
            block(node, indent: indent + 2, firstLineIndented: true, into: &out)
        } else {
            out += " " + scalar(node) + "\n"
        }
    }

    static func isBlockCollection(_ node: PlanNode) -> Bool {
        switch node.value {
        case let .mapping(m): !m.isEmpty
        case let .sequence(s): !s.isEmpty
        default: false
        }
    }

    /// A scalar or an empty collection on one line.
    static func scalar(_ node: PlanNode) -> String {
        switch node.value {
        case .null: "null"
        case let .bool(b): b ? "true" : "false"
        case let .int(i): String(i)
        case let .float(d): YAMLScalarText.float(d)
        case let .string(s): YAMLScalarText.string(s)
        case .sequence: "[]"
        case .mapping: "{}"
        }
    }
}
