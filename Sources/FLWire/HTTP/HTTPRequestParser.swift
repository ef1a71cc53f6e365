/// Reads one HTTP/1.x request head from the start of a byte buffer: a pure function of the bytes
/// and the limits, so a server calls it again as more bytes arrive and a fuzzer can drive it alone.
///
/// Strict where RFC 9112 allows it: lines end in CRLF, the request line has single spaces, field
/// names are tokens with no blank before the colon, folded lines and control characters are refused,
/// HTTP/1.1 needs exactly one Host. Requests carry no body: a Content-Length above 0 or any
/// Transfer-Encoding is refused (413), since only GET and HEAD are served. Bytes are compared one by
/// one, which also gives a coverage-guided fuzzer something to follow.
public enum HTTPRequestParser {
    /// What the bytes so far hold.
    public enum Result: Sendable, Hashable {
        /// A request head that is not complete yet, and within every limit so far.
        case incomplete
        /// A complete request, and how many bytes of the buffer its head took.
        case request(HTTPRequest, consumed: Int)
    }

    static let cr: UInt8 = 13
    static let lf: UInt8 = 10
    static let space: UInt8 = 32
    static let tab: UInt8 = 9

    /// Parses the request at the start of `bytes`.
    /// - Throws: `HTTPRequestError` with the status to answer when the bytes cannot become a request
    ///   that is served, or a limit is passed (also before the head is complete).
    public static func parse(_ bytes: [UInt8], limits: HTTPLimits = HTTPLimits()) throws(HTTPRequestError) -> Result {
        // A server ignores empty lines before a request line (RFC 9112 §2.2); they count against the line limit.
        var start = 0
        while start + 1 < bytes.count, bytes[start] == cr, bytes[start + 1] == lf { start += 2 }
        guard start <= limits.maximumRequestLineBytes else { throw HTTPRequestError(400, "only empty lines where a request line belongs") }
        // The request line's LF may sit at most `maximumRequestLineBytes` + 1 bytes in (after the CR).
        let lineLimit = start + limits.maximumRequestLineBytes + 2
        guard let lineEnd = lineFeed(in: bytes, from: start, before: lineLimit) else {
            if bytes.count >= lineLimit { throw HTTPRequestError(414, "the request line is longer than \(limits.maximumRequestLineBytes) bytes") }
            return .incomplete
        }
        let (methodName, target, minor) = try requestLine(bytes, try lineContent(bytes, start, lineEnd))
        var headers: [HTTPRequest.Header] = []
        let headerStart = lineEnd + 1
        // Field lines with their CRLFs take at most `maximumHeaderBytes`; the empty line ends them.
        let headerLimit = headerStart + limits.maximumHeaderBytes + 2
        var position = headerStart
        while true {
            guard let end = lineFeed(in: bytes, from: position, before: headerLimit) else {
                if bytes.count >= headerLimit { throw HTTPRequestError(431, "the header fields are longer than \(limits.maximumHeaderBytes) bytes") }
                return .incomplete
            }
            let content = try lineContent(bytes, position, end)
            position = end + 1
            if content.isEmpty { break }
            guard position - headerStart <= limits.maximumHeaderBytes else {
                throw HTTPRequestError(431, "the header fields are longer than \(limits.maximumHeaderBytes) bytes")
            }
            guard headers.count < limits.maximumHeaderCount else {
                throw HTTPRequestError(431, "more than \(limits.maximumHeaderCount) header fields")
            }
            headers.append(try field(bytes, content))
        }
        let request = try check(methodName: methodName, target: target, minor: minor, headers: headers)
        return .request(request, consumed: position)
    }

    /// The index of the first LF at or after `from` and before `limit` (and the buffer's end).
    static func lineFeed(in bytes: [UInt8], from: Int, before limit: Int) -> Int? {
        var i = from
        let end = Swift.min(bytes.count, Swift.max(from, limit))
        while i < end {
            if bytes[i] == lf { return i }
            i += 1
        }
        return nil
    }

    /// The line from `start` up to the CR before the LF at `lf`; a bare LF is refused.
    static func lineContent(_ bytes: [UInt8], _ start: Int, _ lfIndex: Int) throws(HTTPRequestError) -> Range<Int> {
        guard lfIndex > start, bytes[lfIndex - 1] == cr else { throw HTTPRequestError(400, "a line ends in LF without CR") }
        return start..<(lfIndex - 1)
    }

    /// `method SP target SP HTTP/d.d`, single spaces, the method a token, the target visible ASCII.
    static func requestLine(_ bytes: [UInt8], _ line: Range<Int>) throws(HTTPRequestError) -> (String, String, Int) {
        var i = line.lowerBound
        while i < line.upperBound, isTokenByte(bytes[i]) { i += 1 }
        guard i > line.lowerBound, i < line.upperBound, bytes[i] == space else { throw HTTPRequestError(400, "malformed request line (method)") }
        let method = String(decoding: bytes[line.lowerBound..<i], as: UTF8.self)
        i += 1
        let targetStart = i
        while i < line.upperBound, bytes[i] > space, bytes[i] < 127 { i += 1 }
        guard i > targetStart, i < line.upperBound, bytes[i] == space else { throw HTTPRequestError(400, "malformed request line (target)") }
        let target = String(decoding: bytes[targetStart..<i], as: UTF8.self)
        i += 1
        let version = Array(bytes[i..<line.upperBound])
        let prefix: [UInt8] = [72, 84, 84, 80, 47]  // "HTTP/"
        guard version.count == 8, version[0] == prefix[0], version[1] == prefix[1], version[2] == prefix[2], version[3] == prefix[3],
              version[4] == prefix[4], isDigit(version[5]), version[6] == 46, isDigit(version[7]) else {
            throw HTTPRequestError(400, "malformed request line (version)")
        }
        guard version[5] == 49 else { throw HTTPRequestError(505, "only HTTP/1.0 and HTTP/1.1 are spoken here") }
        return (method, target, Int(version[7] - 48))
    }

    /// `name: value`: the name a token right before the colon, the value without control characters.
    static func field(_ bytes: [UInt8], _ line: Range<Int>) throws(HTTPRequestError) -> HTTPRequest.Header {
        if bytes[line.lowerBound] == space || bytes[line.lowerBound] == tab {
            throw HTTPRequestError(400, "a folded header line (obsolete line folding is not accepted)")
        }
        var i = line.lowerBound
        while i < line.upperBound, isTokenByte(bytes[i]) { i += 1 }
        guard i > line.lowerBound, i < line.upperBound, bytes[i] == 58 else { throw HTTPRequestError(400, "malformed header field name") }
        let name = String(decoding: bytes[line.lowerBound..<i], as: UTF8.self).lowercased()
        var valueStart = i + 1
        var valueEnd = line.upperBound
        while valueStart < valueEnd, bytes[valueStart] == space || bytes[valueStart] == tab { valueStart += 1 }
        while valueEnd > valueStart, bytes[valueEnd - 1] == space || bytes[valueEnd - 1] == tab { valueEnd -= 1 }
        var j = valueStart
        while j < valueEnd {
            let b = bytes[j]
            if (b < space && b != tab) || b == 127 { throw HTTPRequestError(400, "a control character in header field '\(name)'") }
            j += 1
        }
        return HTTPRequest.Header(name: name, value: String(decoding: bytes[valueStart..<valueEnd], as: UTF8.self))
    }

    /// What a complete head must also be: a served method, an origin-form target, one Host for 1.1, no body.
    static func check(methodName: String, target: String, minor: Int,
                      headers: [HTTPRequest.Header]) throws(HTTPRequestError) -> HTTPRequest {
        guard let method = HTTPRequest.Method(rawValue: methodName) else {
            throw HTTPRequestError(405, "method \(methodName) is not served here: only GET and HEAD")
        }
        guard target.utf8.first == 47 else { throw HTTPRequestError(400, "the target must be a path starting with /") }
        let hosts = headers.filter { $0.name == "host" }.count
        if hosts > 1 || (minor >= 1 && hosts == 0) {
            throw HTTPRequestError(400, hosts == 0 ? "an HTTP/1.1 request without Host" : "more than one Host")
        }
        if headers.contains(where: { $0.name == "transfer-encoding" }) {
            throw HTTPRequestError(413, "a \(methodName) request carries no body (Transfer-Encoding)")
        }
        for length in headers where length.name == "content-length" {
            guard !length.value.isEmpty, length.value.utf8.allSatisfy(isDigit) else {
                throw HTTPRequestError(400, "malformed Content-Length '\(length.value)'")
            }
            guard length.value.utf8.allSatisfy({ $0 == 48 }) else {
                throw HTTPRequestError(413, "a \(methodName) request carries no body (Content-Length \(length.value))")
            }
        }
        return HTTPRequest(method: method, target: target, minorVersion: minor, headers: headers)
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }

    /// RFC 9110 `tchar`: letters, digits and ``!#$%&'*+-.^_`|~``.
    static func isTokenByte(_ b: UInt8) -> Bool {
        if b >= 97 && b <= 122 { return true }
        if b >= 65 && b <= 90 { return true }
        if b >= 48 && b <= 57 { return true }
        switch b {
        case 33, 35, 36, 37, 38, 39, 42, 43, 45, 46, 94, 95, 96, 124, 126: return true
        default: return false
        }
    }
}
