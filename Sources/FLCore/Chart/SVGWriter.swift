import Foundation

/// Builds SVG (or HTML) text element by element, escaping every attribute value and text, and
/// writing attributes in name order so the same picture is always the same bytes.
public struct SVGWriter: Sendable {
    public private(set) var text = ""

    public init() {}

    /// `<name a="…">`, to be closed with `close(name)`.
    public mutating func open(_ name: String, _ attributes: [String: String] = [:]) {
        text += "<" + name + Self.attributes(attributes) + ">\n"
    }

    public mutating func close(_ name: String) {
        text += "</" + name + ">\n"
    }

    /// `<name a="…"/>`, or `<name a="…">text</name>` when there is text.
    public mutating func element(_ name: String, _ attributes: [String: String] = [:], text content: String? = nil) {
        if let content {
            text += "<" + name + Self.attributes(attributes) + ">" + Self.escape(content) + "</" + name + ">\n"
        } else {
            text += "<" + name + Self.attributes(attributes) + "/>\n"
        }
    }

    /// Text already made of escaped markup (another writer's output).
    public mutating func raw(_ markup: String) {
        text += markup
    }

    static func attributes(_ a: [String: String]) -> String {
        a.keys.sorted().map { " \($0)=\"\(escape(a[$0]!))\"" }.joined()
    }

    /// The text with `& < > " '` as entities: safe in element content and in quoted attributes.
    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            // Control characters are not allowed in XML 1.0 at all.
            case _ where c.value < 0x20 && c != "\n" && c != "\t": out += "\u{FFFD}"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// A coordinate with at most two decimals and no exponent.
    public static func number(_ v: Double) -> String {
        guard v.isFinite else { return "0" }
        let text = String(format: "%.2f", v)
        var trimmed = Substring(text)
        while trimmed.hasSuffix("0") { trimmed = trimmed.dropLast() }
        if trimmed.hasSuffix(".") { trimmed = trimmed.dropLast() }
        return trimmed == "-0" ? "0" : String(trimmed)
    }
}
