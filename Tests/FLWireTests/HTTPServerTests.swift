#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import FLPKI
import FLTesting
@testable import FLWire

/// The HTTP server on loopback, spoken to byte by byte: answers, keep-alive, HEAD, the deadlines,
/// the connection limit, plain HTTP refused off loopback, and mutual TLS admitting user and admin
/// certificates only.
@Suite struct HTTPServerTests {
    static func server(_ limits: HTTPLimits = HTTPLimits(), tls: TLSContext? = nil) throws -> HTTPServer {
        let server = try HTTPServer(.init(host: "127.0.0.1", port: 0, tls: tls, limits: limits)) { request in
            HTTPResponse(contentType: "text/plain", text: "you asked for \(request.path)\n")
        }
        server.start()
        return server
    }

    /// A client stream: plain, or TLS with `identity`.
    static func connect(_ server: HTTPServer, tls: TLSConfiguration? = nil) throws -> any ByteStream {
        if let tls {
            return try TLSConnection.connect(host: "127.0.0.1", port: server.port, context: TLSContext(tls, side: .client), timeout: 5)
        }
        let fd = try Socket.connect(host: "127.0.0.1", port: server.port, deadline: .after(seconds: 5))
        return PlainSocketStream(fd: fd, peer: "server")
    }

    static func send(_ text: String, on stream: any ByteStream) throws {
        try Array(text.utf8).withUnsafeBytes { try stream.write($0, deadline: .after(seconds: 5)) }
    }

    /// Reads one answer: its status, fields and a body of Content-Length bytes (none for HEAD);
    /// nil when the server closed the connection first.
    static func readResponse(_ stream: any ByteStream, head: Bool = false) throws -> (status: Int, headers: [String: String], body: String)? {
        var pending: [UInt8] = []
        return try readResponse(stream, head: head, pending: &pending)
    }

    /// `readResponse` keeping what follows the answer in `pending` for the next one (pipelining).
    static func readResponse(_ stream: any ByteStream, head: Bool = false,
                             pending bytes: inout [UInt8]) throws -> (status: Int, headers: [String: String], body: String)? {
        var chunk = [UInt8](repeating: 0, count: 4096)
        func fill() throws -> Bool {
            let n = try chunk.withUnsafeMutableBytes { try stream.read(into: $0, deadline: .after(seconds: 10)) }
            bytes += chunk[0..<n]
            return n > 0
        }
        let separator = Array("\r\n\r\n".utf8)
        var end: Int?
        while end == nil {
            if let found = (0..<max(0, bytes.count - 3)).first(where: { Array(bytes[$0..<$0 + 4]) == separator }) { end = found; break }
            guard try fill() else { return nil }
        }
        let lines = String(decoding: bytes[..<end!], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1])!
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            headers[parts[0].lowercased()] = parts[1].trimmingCharacters(in: .whitespaces)
        }
        let length = head ? 0 : Int(headers["content-length"]!)!
        while bytes.count < end! + 4 + length { guard try fill() else { break } }
        let body = String(decoding: bytes[(end! + 4)..<min(bytes.count, end! + 4 + length)], as: UTF8.self)
        bytes.removeFirst(min(bytes.count, end! + 4 + length))
        return (status, headers, body)
    }

    @Test func answersKeepsAliveAndHeadHasNoBody() throws {
        let server = try Self.server()
        defer { server.stop() }
        let client = try Self.connect(server)
        defer { client.close() }
        try Self.send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n", on: client)
        let first = try #require(try Self.readResponse(client))
        #expect(first.status == 200 && first.body == "you asked for /one\n" && first.headers["connection"] == "keep-alive")
        try Self.send("HEAD /two HTTP/1.1\r\nHost: x\r\n\r\n", on: client)
        let second = try #require(try Self.readResponse(client, head: true))
        #expect(second.status == 200 && second.body.isEmpty && second.headers["content-length"] == "19")
        // Pipelined, the last asking to close: two answers, then the end of the stream.
        try Self.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", on: client)
        var pending: [UInt8] = []
        #expect(try Self.readResponse(client, pending: &pending)?.body == "you asked for /a\n")
        let last = try #require(try Self.readResponse(client, pending: &pending))
        #expect(last.body == "you asked for /b\n" && last.headers["connection"] == "close")
        #expect(try Self.readResponse(client, pending: &pending) == nil)
    }

    /// A request written one byte per write is read across as many reads as the network makes of it.
    @Test func aRequestSentByteByByteIsAnswered() throws {
        let server = try Self.server()
        defer { server.stop() }
        let client = try Self.connect(server)
        defer { client.close() }
        for byte in Array("GET /slowly HTTP/1.1\r\nHost: x\r\n\r\n".utf8) {
            try [byte].withUnsafeBytes { try client.write($0, deadline: .after(seconds: 5)) }
        }
        #expect(try Self.readResponse(client)?.body == "you asked for /slowly\n")
    }

    @Test func malformedRequestsGetTheirStatusAndTheConnectionCloses() throws {
        let server = try Self.server(HTTPLimits(maximumRequestLineBytes: 64))
        defer { server.stop() }
        for (request, status) in [("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi", 405),
                                  ("GET /" + String(repeating: "a", count: 100), 414),
                                  ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n", 413)] {
            let client = try Self.connect(server)
            defer { client.close() }
            try Self.send(request, on: client)
            let answer = try #require(try Self.readResponse(client))
            #expect(answer.status == status)
            #expect(answer.headers["connection"] == "close")
            #expect(try Self.readResponse(client) == nil)
        }
    }

    @Test func aRequestTooSlowGets408AndAnIdleConnectionIsClosed() throws {
        let server = try Self.server(HTTPLimits(requestTimeout: 0.3, idleTimeout: 0.3))
        defer { server.stop() }
        let slow = try Self.connect(server)
        defer { slow.close() }
        try Self.send("GET / HTTP/1.1\r\nHo", on: slow)
        #expect(try Self.readResponse(slow)?.status == 408)
        let idle = try Self.connect(server)
        defer { idle.close() }
        #expect(try Self.readResponse(idle) == nil)
    }

    @Test func connectionsPastTheLimitGet503() throws {
        let server = try Self.server(HTTPLimits(maximumConnections: 1))
        defer { server.stop() }
        let first = try Self.connect(server)
        defer { first.close() }
        // An answer on the first proves it is being served (and counted) before the second arrives.
        try Self.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n", on: first)
        #expect(try Self.readResponse(first)?.status == 200)
        let second = try Self.connect(server)
        defer { second.close() }
        #expect(try Self.readResponse(second)?.status == 503)
    }

    @Test func plainHTTPOnlyOnLoopback() throws {
        #expect(throws: HTTPServerError.self) { try HTTPServer(.init(host: "0.0.0.0", port: 0)) { _ in HTTPResponse(status: 200) } }
        #expect(HTTPServer.isLoopback("127.0.0.1") && HTTPServer.isLoopback("127.1.2.3") && HTTPServer.isLoopback("::1"))
        #expect(!HTTPServer.isLoopback("0.0.0.0") && !HTTPServer.isLoopback("10.0.0.1") && !HTTPServer.isLoopback("127.0.0.1.example.org"))
    }

    @Test func overTLSOnlyUserAndAdminCertificatesAreServed() throws {
        let pki = try TestPKI()
        let context = try TLSContext(try pki.issue(name: "director", role: .director), side: .server)
        let server = try HTTPServer(.init(host: "0.0.0.0", port: 0, tls: context)) { _ in HTTPResponse(contentType: "text/plain", text: "ok") }
        server.start()
        defer { server.stop() }
        for (role, status) in [(CertificateRole.user, 200), (.admin, 200), (.envoy, 403)] {
            let client = try Self.connect(server, tls: try pki.issue(name: "someone-\(role)", role: role))
            defer { client.close() }
            try Self.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n", on: client)
            let answer = try #require(try Self.readResponse(client))
            #expect(answer.status == status, "\(role)")
            if status == 403 { #expect(answer.body.contains("role envoy")) }
        }
    }
}
