/// Why a request cannot be served, as the status the server answers with and a sentence saying
/// what was wrong. The server closes the connection after sending it: what follows a malformed
/// request cannot be trusted to start at a request boundary.
public struct HTTPRequestError: Error, Sendable, Hashable, CustomStringConvertible {
    /// 400, 405, 408, 413, 414, 431, 503 or 505.
    public var status: Int
    public var reason: String

    public init(_ status: Int, _ reason: String) {
        self.status = status
        self.reason = reason
    }

    public var description: String { "\(status) \(HTTPResponse.reasonPhrase(status)): \(reason)" }
}
