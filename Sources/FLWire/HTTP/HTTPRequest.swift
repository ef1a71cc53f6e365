import Foundation

/// One parsed HTTP/1.x request head: what `HTTPRequestParser` returns and an `HTTPServer` handler gets.
public struct HTTPRequest: Sendable, Hashable {
    /// The methods served; every other one is answered 405.
    public enum Method: String, Sendable, Hashable {
        case get = "GET"
        case head = "HEAD"
    }

    /// One header field: the name lower-cased (names are case-insensitive), the value without surrounding blanks.
    public struct Header: Sendable, Hashable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public var method: Method
    /// The request target as sent (origin form: starts with `/`).
    public var target: String
    /// 0 for HTTP/1.0, 1 for HTTP/1.1 (and any later 1.x, which 1.1 answers).
    public var minorVersion: Int
    public var headers: [Header]

    public init(method: Method, target: String, minorVersion: Int, headers: [Header]) {
        self.method = method
        self.target = target
        self.minorVersion = minorVersion
        self.headers = headers
    }

    /// The target before any `?`.
    public var path: String { String(target.prefix { $0 != "?" }) }

    /// The target after the first `?`, or "" when there is none.
    public var query: String {
        guard let mark = target.firstIndex(of: "?") else { return "" }
        return String(target[target.index(after: mark)...])
    }

    /// The first value of the header `name` (any case).
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name == lower }?.value
    }

    /// Whether the connection stays open after the answer: HTTP/1.1 unless `Connection: close`,
    /// HTTP/1.0 only with `Connection: keep-alive`.
    public var keepsAlive: Bool {
        let tokens = headers.filter { $0.name == "connection" }
            .flatMap { $0.value.lowercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        if tokens.contains("close") { return false }
        return minorVersion >= 1 || tokens.contains("keep-alive")
    }
}
