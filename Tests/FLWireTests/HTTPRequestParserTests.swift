import Foundation
import Testing
import FLCore
@testable import FLWire

/// The HTTP request parser over bytes: complete heads at every split, each limit at and past its
/// bound, and the malformed lines it refuses with the status the server answers.
@Suite struct HTTPRequestParserTests {
    static let curl = Array("GET /metrics?x=1 HTTP/1.1\r\nHost: 127.0.0.1:9090\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n".utf8)

    static func status(_ text: String, limits: HTTPLimits = HTTPLimits()) -> Int? {
        do {
            _ = try HTTPRequestParser.parse(Array(text.utf8), limits: limits)
            return nil
        } catch {
            return error.status
        }
    }

    @Test func parsesARequestHead() throws {
        let result = try HTTPRequestParser.parse(Self.curl)
        guard case let .request(request, consumed) = result else {
            Issue.record("not complete: \(result)")
            return
        }
        #expect(consumed == Self.curl.count)
        #expect(request.method == .get)
        #expect(request.target == "/metrics?x=1" && request.path == "/metrics" && request.query == "x=1")
        #expect(request.minorVersion == 1)
        #expect(request.headers.map(\.name) == ["host", "user-agent", "accept"])
        #expect(request.header("HOST") == "127.0.0.1:9090")
        #expect(request.keepsAlive)
    }

    /// Every prefix is incomplete and the whole is the request, however the bytes were cut:
    /// the parser keeps no state between calls, so a split anywhere is a prefix.
    @Test func everyPrefixIsIncompleteUntilTheLastByte() throws {
        for cut in 0..<Self.curl.count {
            #expect(try HTTPRequestParser.parse(Array(Self.curl[..<cut])) == .incomplete, "cut at \(cut)")
        }
        // Two pipelined requests: the first is taken alone, and the rest parses on its own.
        let two = Self.curl + Array("HEAD / HTTP/1.0\r\n\r\n".utf8)
        guard case let .request(_, consumed) = try HTTPRequestParser.parse(two) else { Issue.record("first"); return }
        #expect(consumed == Self.curl.count)
        guard case let .request(second, rest) = try HTTPRequestParser.parse(Array(two[consumed...])) else { Issue.record("second"); return }
        #expect(second.method == .head && second.minorVersion == 0 && !second.keepsAlive && rest == 19)
    }

    @Test func eachLimitHoldsAtItsBoundAndRefusesPastIt() {
        let limits = HTTPLimits(maximumRequestLineBytes: 40, maximumHeaderCount: 3, maximumHeaderBytes: 60)
        // "GET /aaa… HTTP/1.1" is 4 + target + 9 bytes.
        let atLine = "GET /" + String(repeating: "a", count: 40 - 14) + " HTTP/1.0\r\n\r\n"
        #expect(Self.status(atLine, limits: limits) == nil)
        let pastLine = "GET /" + String(repeating: "a", count: 41 - 14) + " HTTP/1.0\r\n\r\n"
        #expect(Self.status(pastLine, limits: limits) == 414)
        // Refused as soon as the line is too long, before its end arrives.
        #expect(Self.status("GET /" + String(repeating: "a", count: 100), limits: limits) == 414)
        let three = "GET / HTTP/1.1\r\nHost: a\r\nB: b\r\nC: c\r\n\r\n"
        #expect(Self.status(three, limits: limits) == nil)
        #expect(Self.status("GET / HTTP/1.1\r\nHost: a\r\nB: b\r\nC: c\r\nD: d\r\n\r\n", limits: limits) == 431)
        // Field lines of exactly 60 bytes with their CRLFs pass; 61 do not, complete or not.
        let field = "Host: " + String(repeating: "h", count: 60 - 8) + "\r\n"
        #expect(field.utf8.count == 60)
        #expect(Self.status("GET / HTTP/1.1\r\n" + field + "\r\n", limits: limits) == nil)
        let longer = "Host: " + String(repeating: "h", count: 61 - 8) + "\r\n"
        #expect(Self.status("GET / HTTP/1.1\r\n" + longer + "\r\n", limits: limits) == 431)
        #expect(Self.status("GET / HTTP/1.1\r\nHost: " + String(repeating: "h", count: 200), limits: limits) == 431)
        #expect(Self.status(String(repeating: "\r\n", count: 100), limits: limits) == 400)
    }

    @Test func refusesBodiesAndOtherMethods() {
        #expect(Self.status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello") == 405)
        #expect(Self.status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello") == 413)
        #expect(Self.status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n") == nil)
        #expect(Self.status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n") == 400)
        #expect(Self.status("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n") == 413)
        #expect(Self.status("DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n") == 405)
    }

    @Test(arguments: [
        ("GET / HTTP/1.1\nHost: a\n\n", 400),                  // bare LF
        ("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),           // two spaces
        ("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400),           // trailing space
        ("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),    // absolute form
        ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        ("GET / HTTQ/1.1\r\nHost: a\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\n\r\n", 400),                       // no Host
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),           // blank before the colon
        ("GET / HTTP/1.1\r\nHost: a\u{1}b\r\n\r\n", 400),
        ("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("GET /\u{7f} HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ])
    func refusesMalformedLines(text: String, status: Int) {
        #expect(Self.status(text) == status, "\(text.debugDescription)")
    }

    /// Seeded mutations of good requests (bytes flipped, inserted, dropped) through the fuzz target:
    /// a small, repeatable stand-in for `make fuzz` that runs with every test run.
    @Test func mutatedRequestsKeepTheFuzzTargetsInvariants() throws {
        let seeds = [Self.curl, Array("HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".utf8),
                     Array("GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\nGET / HTTP/1.1\r\n".utf8)]
        let alphabet = Array(" \t\r\n:/?.HTTP0123456789GETHEADhostContent-Length\u{0}\u{7f}".utf8) + [0xff]
        var random = SplitMix64(state: 16)
        var accepted = 0
        for _ in 0..<20_000 {
            var bytes = seeds[Int(random.next() % UInt64(seeds.count))]
            for _ in 0...(random.next() % 4) {
                let at = Int(random.next() % UInt64(bytes.count + 1))
                let byte = alphabet[Int(random.next() % UInt64(alphabet.count))]
                switch random.next() % 3 {
                case 0 where at < bytes.count: bytes[at] = byte
                case 1: bytes.insert(byte, at: at)
                default: if at < bytes.count { bytes.remove(at: at) }
                }
            }
            do { try HTTPFuzzTarget.run(bytes) } catch { Issue.record("\(error): \(String(decoding: bytes, as: UTF8.self).debugDescription)") }
            if case .request = try? HTTPRequestParser.parse(bytes, limits: HTTPFuzzTarget.limits) { accepted += 1 }
        }
        // Some mutations stay valid requests (a changed header value, say): the invariants were exercised.
        #expect(accepted > 1000)
    }

    @Test func connectionHeaderDecidesKeepAlive() throws {
        func request(_ text: String) throws -> HTTPRequest? {
            guard case let .request(r, _) = try HTTPRequestParser.parse(Array(text.utf8)) else { return nil }
            return r
        }
        #expect(try request("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")?.keepsAlive == false)
        #expect(try request("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")?.keepsAlive == true)
        #expect(try request("GET / HTTP/1.0\r\n\r\n")?.keepsAlive == false)
        #expect(try request("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")?.path == "/")
    }
}
