/// One connection's requests, one after another: read until a head is complete (the first byte
/// within the idle timeout, the rest within the request timeout), answer, and keep the connection
/// while both ends want it. A request that cannot be served is answered with its 4xx and the
/// connection closed.
struct HTTPConnection {
    let stream: any ByteStream
    let limits: HTTPLimits
    let handler: HTTPServer.Handler
    let isStopped: @Sendable () -> Bool

    func run() {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        // Set from a request's first byte to its answer; nil while the connection idles between requests.
        var requestDeadline: Deadline?
        while !isStopped() {
            let parsed: HTTPRequestParser.Result
            do {
                parsed = try HTTPRequestParser.parse(buffer, limits: limits)
            } catch {
                answer(HTTPResponse(error), keepAlive: false, body: true)
                return
            }
            if case let .request(request, consumed) = parsed {
                buffer.removeFirst(consumed)
                let keep = request.keepsAlive && !isStopped()
                guard answer(handler(request), keepAlive: keep, body: request.method != .head), keep else { return }
                // A pipelined request already begun gets its own full deadline.
                requestDeadline = buffer.isEmpty ? nil : .after(seconds: limits.requestTimeout)
                continue
            }
            let n: Int
            do {
                n = try chunk.withUnsafeMutableBytes { try stream.read(into: $0, deadline: requestDeadline ?? .after(seconds: limits.idleTimeout)) }
            } catch is TimeoutError {
                if requestDeadline != nil {
                    answer(HTTPResponse(HTTPRequestError(408, "the request did not arrive within \(limits.requestTimeout) s")),
                           keepAlive: false, body: true)
                }
                return
            } catch {
                return
            }
            if n == 0 { return }
            if requestDeadline == nil { requestDeadline = .after(seconds: limits.requestTimeout) }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }

    @discardableResult
    private func answer(_ response: HTTPResponse, keepAlive: Bool, body: Bool) -> Bool {
        let bytes = response.serialized(keepAlive: keepAlive, includeBody: body)
        do {
            try bytes.withUnsafeBytes { try stream.write($0, deadline: .after(seconds: limits.requestTimeout)) }
            return true
        } catch {
            return false
        }
    }
}
