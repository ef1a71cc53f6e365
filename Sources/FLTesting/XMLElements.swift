import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The elements of an XML text (an SVG chart, the dashboard's page) in document order, each with
/// its attributes and text: what tests check, rather than searching the text for substrings.
public final class XMLElements: NSObject, XMLParserDelegate {
    public struct Element: Sendable {
        public var name: String
        public var attributes: [String: String]
        /// The text directly inside the element, before its first child element's.
        public var text: String
    }

    public private(set) var found: [Element] = []
    /// Why the text is not well-formed XML; nil when it is.
    public private(set) var problem: String?

    /// Reads `text`; a text that is not well-formed leaves `problem` set and `found` as far as it got.
    public static func parse(_ text: String) -> XMLElements {
        let parser = XMLParser(data: Data(text.utf8))
        let elements = XMLElements()
        parser.delegate = elements
        if !parser.parse() { elements.problem = "not well-formed XML: \(String(describing: parser.parserError))" }
        return elements
    }

    public func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                       attributes: [String: String] = [:]) {
        found.append(Element(name: name, attributes: attributes, text: ""))
    }

    public func parser(_ parser: XMLParser, foundCharacters string: String) {
        if !found.isEmpty { found[found.count - 1].text += string }
    }
}
