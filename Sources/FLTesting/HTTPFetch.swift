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

    /// GETs `path` from `127.0.0.1:port` within `timeout` seconds: over plain HTTP, or over TLS
    /// presenting the certificate `tls` names.
    public static func get(port: Int, path: String, tls: TLSConfiguration? = nil, timeout: Double = 10) throws -> Response {
        let deadline = Deadline.after(seconds: timeout)
        let stream: any ByteStream
        if let tls {
            stream = try TLSConnection.connect(host: "127.0.0.1", port: port, context: TLSContext(tls, side: .client), timeout: timeout)
        } else {
            stream = PlainSocketStream(fd: try Socket.connect(host: "127.0.0.1", port: port, deadline: deadline), peer: "127.0.0.1:\(port)")
        }
        defer { stream.close() }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n".utf8)
        try request.withUnsafeBytes { try stream.write($0, deadline: deadline) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n: Int
            do {
                n = try chunk.withUnsafeMutableBytes { try stream.read(into: $0, deadline: deadline) }
            } catch {
                // A TLS peer may close without close_notify once it has answered.
                if bytes.isEmpty { throw error }
                break
            }
            if n == 0 { break }
            bytes += chunk[0..<n]
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
