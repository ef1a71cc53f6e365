import Foundation

/// An answer to one request: a status, header fields and a body, written in HTTP/1.1 form with a
/// Content-Length (never chunked), so a client always knows where the answer ends.
public struct HTTPResponse: Sendable, Hashable {
    public var status: Int
    /// Fields besides Content-Length, Connection and Date, which the server adds.
    public var headers: [HTTPRequest.Header]
    public var body: [UInt8]

    public init(status: Int, headers: [HTTPRequest.Header] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A text answer of `contentType` (UTF-8), not to be cached: the dashboard's figures change.
    public init(status: Int = 200, contentType: String, text: String) {
        self.init(status: status, headers: [.init(name: "Content-Type", value: contentType + "; charset=utf-8"),
                                            .init(name: "Cache-Control", value: "no-store")],
                  body: Array(text.utf8))
    }

    /// The plain-text answer to a request that cannot be served.
    public init(_ error: HTTPRequestError) {
        self.init(status: error.status, contentType: "text/plain", text: error.description + "\n")
        if error.status == 405 { headers.append(.init(name: "Allow", value: "GET, HEAD")) }
    }

    /// The bytes sent: status line, fields, blank line and, unless `includeBody` is false (HEAD), the body.
    public func serialized(keepAlive: Bool, includeBody: Bool = true) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(Self.reasonPhrase(status))\r\n"
        for field in headers { head += "\(field.name): \(field.value)\r\n" }
        head += "Content-Length: \(body.count)\r\n"
        head += "Connection: \(keepAlive ? "keep-alive" : "close")\r\n"
        head += "X-Content-Type-Options: nosniff\r\n\r\n"
        return Array(head.utf8) + (includeBody ? body : [])
    }

    /// The reason phrase of the statuses this server sends.
    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "Status"
        }
    }
}
