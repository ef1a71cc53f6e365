#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FLWire

/// A minimal HTTP/1.1 GET for tests of the Director's dashboard: one request on its own
/// connection (`Connection: close`), read to the end, split into status, fields and body.
public enum HTTPFetch {
    public struct Response: Sendable {
        public var status: Int
        /// Field names lower-cased.
        public var headers: [String: String]
        public var body: String
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// GETs `path` from `127.0.0.1:port` over plain HTTP, within `timeout` seconds.
    public static func get(port: Int, path: String, timeout: Double = 10) throws -> Response {
        let deadline = Deadline.after(seconds: timeout)
        let fd = try Socket.connect(host: "127.0.0.1", port: port, deadline: deadline)
        defer { close(fd) }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n".utf8)
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 { sent += n; continue }
            guard errno == EAGAIN || errno == EINTR else { throw Failure(description: "send: \(String(cString: strerror(errno)))") }
            try Socket.wait(fd, for: Int16(POLLOUT), deadline: deadline, operation: "send to port \(port)")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            if n > 0 { bytes += chunk[0..<n]; continue }
            guard errno == EAGAIN || errno == EINTR else { throw Failure(description: "recv: \(String(cString: strerror(errno)))") }
            try Socket.wait(fd, for: Int16(POLLIN), deadline: deadline, operation: "read from port \(port)")
        }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw Failure(description: "no complete answer: \(text.prefix(200))") }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let parts = lines[0].split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw Failure(description: "bad status line '\(lines[0])'") }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Response(status: status, headers: headers, body: String(text[split.upperBound...]))
    }
}
