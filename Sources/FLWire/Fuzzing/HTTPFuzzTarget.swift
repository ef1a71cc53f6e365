import FLCore

/// The HTTP request parser as a fuzz target (`fx-fuzz http`): any bytes a browser-facing socket
/// may receive. Besides not trapping, a request the parser accepts must be exactly as long as it
/// says — its head alone parses to the same request and one byte less is still incomplete — and
/// every refusal must be one of the statuses the server sends.
public enum HTTPFuzzTarget {
    /// Limits small enough that short inputs reach every bound.
    public static let limits = HTTPLimits(maximumRequestLineBytes: 256, maximumHeaderCount: 8, maximumHeaderBytes: 512)
    static let statuses: Set<Int> = [400, 405, 413, 414, 431, 505]

    public static func run(_ bytes: [UInt8]) throws(FuzzFinding) {
        let result: HTTPRequestParser.Result
        do {
            result = try HTTPRequestParser.parse(bytes, limits: limits)
        } catch {
            guard statuses.contains(error.status) else { throw FuzzFinding(target: "http", "unexpected status \(error)") }
            return
        }
        guard case let .request(request, consumed) = result else { return }
        guard consumed > 0, consumed <= bytes.count else {
            throw FuzzFinding(target: "http", "consumed \(consumed) of \(bytes.count) bytes")
        }
        let head = Array(bytes[..<consumed])
        guard (try? HTTPRequestParser.parse(head, limits: limits)) == .request(request, consumed: consumed) else {
            throw FuzzFinding(target: "http", "the request's own \(consumed) bytes parse differently")
        }
        guard (try? HTTPRequestParser.parse(Array(head.dropLast()), limits: limits)) == .incomplete else {
            throw FuzzFinding(target: "http", "a request of \(consumed) bytes is already complete one byte earlier")
        }
    }
}
