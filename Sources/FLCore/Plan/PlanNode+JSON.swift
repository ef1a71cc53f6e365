extension PlanNode {
    /// The value as canonical JSON: keys sorted by Unicode code point, integers as integers, floats
    /// in the shortest form that reads back to the same double (`0.1`, `1e-05`, `2.0`), strings
    /// escaped per RFC 8259 (quote, backslash and control characters; everything else as UTF-8).
    /// `pretty` indents by two spaces with `": "` after keys; otherwise there is no whitespace at
    /// all. No trailing newline.
    ///
    /// - Throws: `PlanError` (`.output`) naming the location and path of a NaN or infinite float,
    ///   which JSON cannot represent.
    public func canonicalJSON(pretty: Bool = false) throws(PlanError) -> String {
        var out = ""
        try JSONWriter.write(self, pretty: pretty, indent: 0, path: "", into: &out)
        return out
    }
}

enum JSONWriter {
    /// `s` as a JSON string literal.
    static func quoted(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar.value {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0..<0x20: out += "\\u" + YAMLScalarText.hex(scalar.value, width: 4)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
        return out
    }

    static func childPath(_ path: String, _ component: String) -> String {
        path.isEmpty ? component : path + "." + component
    }

    static func write(_ node: PlanNode, pretty: Bool, indent: Int, path: String, into out: inout String) throws(PlanError) {
        switch node.value {
        case .null: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .int(i): out += String(i)
        case let .float(d):
            guard d.isFinite else {
                throw PlanError(.output, file: node.location?.file ?? "<plan>", location: node.location,
                                keyPath: path.isEmpty ? nil : path,
                                message: "expected a finite number for JSON, found float \(YAMLScalarText.float(d)); JSON has no NaN or infinity")
            }
            out += d.description
        case let .string(s): out += quoted(s)
        case let .sequence(items):
            if items.isEmpty {
                out += "[]"
                return
            }
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                if pretty { newline(indent + 1, &out) }
                try write(item, pretty: pretty, indent: indent + 1, path: childPath(path, String(i)), into: &out)
            }
            if pretty { newline(indent, &out) }
            out += "]"
        case let .mapping(mapping):
            if mapping.isEmpty {
                out += "{}"
                return
            }
            out += "{"
            // UTF-8 byte order is code point order, which is what other canonical writers use.
            let sorted = mapping.entries.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            for (i, entry) in sorted.enumerated() {
                if i > 0 { out += "," }
                if pretty { newline(indent + 1, &out) }
                out += quoted(entry.key)
                out += pretty ? ": " : ":"
                try write(entry.value, pretty: pretty, indent: indent + 1, path: childPath(path, entry.key), into: &out)
            }
            if pretty { newline(indent, &out) }
            out += "}"
        }
    }

    private static func newline(_ indent: Int, _ out: inout String) {
        out += "\n"
        out += String(repeating: "  ", count: indent)
    }
}
