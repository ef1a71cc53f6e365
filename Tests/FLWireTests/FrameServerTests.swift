#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
import FLCore
import FLTesting
@testable import FLWire
import FLPKI

/// Serves the requests the tests send: models out, updates in, and "who am I".
final class EchoHandler: FrameHandler {
    let connectedPeers = Mutex<[String]>([])

    func connected(_ peer: PeerConnection) throws {
        connectedPeers.withLock { $0.append(peer.name) }
    }

    func handle(_ request: Request) {
        switch request.message {
        case let m as ModelRequest:
            // A model of `round × 1000` floats counting up from 0.
            let values = (0..<(m.round * 1000)).map { Float($0) }
            let layout = try! ModelLayout([TensorSpec(name: "w", shape: [values.count])])
            request.responder.reply(ModelReply(round: m.round, layout: layout), stream: FloatBufferSource(values))
        case let m as TaskResultMessage:
            guard let stream = request.stream else { return request.responder.fail(.badRequest, "no stream") }
            do {
                let values = try stream.readFloats()
                request.responder.reply(TaskReply(status: .run, round: m.round, tasks: ["sum=\(values.reduce(0, +))"]))
            } catch {
                request.responder.fail(.badRequest, "\(error)")
            }
        case is TaskRequest:
            // Tells the client the name the server saw in its certificate.
            request.responder.reply(TaskReply(status: .wait, round: 0, tasks: [request.peer.name]))
        default:
            request.responder.fail(.badRequest, "unexpected \(type(of: request.message))")
        }
    }
}

/// A running server with its own CA and log, and honest clients on demand.
final class ServerFixture {
    let pki: TestPKI
    let log = LogRecorder()
    let handler = EchoHandler()
    let server: FrameServer

    /// `configure` adjusts the server's configuration (limits, a revocation list) before it starts.
    init(allowedPeers: Set<String>? = nil, allowedRoles: Set<CertificateRole>? = nil, serverHosts: [String] = ["127.0.0.1", "localhost"],
         handshakeTimeout: Double = 5, idleTimeout: Double = 30, pki: TestPKI? = nil,
         configure: (inout ServerConfiguration) -> Void = { _ in }) throws {
        self.pki = try pki ?? TestPKI()
        let tls = try self.pki.issue(name: "aggregator", role: .aggregator, hosts: serverHosts)
        var configuration = ServerConfiguration(tls: tls, handshakeTimeout: handshakeTimeout, idleTimeout: idleTimeout,
                                                allowedPeers: allowedPeers, allowedRoles: allowedRoles)
        configure(&configuration)
        server = try FrameServer(configuration: configuration, handler: handler, logger: log.logger(label: "server"))
    }

    deinit { server.stop() }

    func connect(_ tls: TLSConfiguration, presentsCertificate: Bool = true) throws -> FrameClient {
        try FrameClient.connect(host: "127.0.0.1", port: server.port,
                                context: TLSContext(tls, side: .client, presentsCertificate: presentsCertificate), timeout: 5)
    }

    /// A new client named `name` that must get an answer: proves the server still serves.
    func expectServes(_ name: String = "site-1", sourceLocation: SourceLocation = #_sourceLocation) throws {
        let client = try connect(pki.issue(name: name))
        defer { client.close() }
        let reply = try client.call(TaskRequest(round: 0, maximumWaitSeconds: 0), timeout: 5)
        #expect((reply as? TaskReply)?.tasks == [name], sourceLocation: sourceLocation)
    }

    /// Waits for the server to log a line containing `text`.
    @discardableResult
    func expectLogged(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> MemoryLogSink.Line? {
        let line = log.waitForLine(containing: text, timeout: 10)
        #expect(line != nil, "server never logged '\(text)'; it logged: \(log.lines.map(\.message))", sourceLocation: sourceLocation)
        return line
    }
}

@Suite struct FrameServerTests {
    // MARK: Honest peers

    @Test func roundTripWithStreams() throws {
        let fixture = try ServerFixture()
        let client = try fixture.connect(fixture.pki.issue(name: "site-1"))
        defer { client.close() }
        #expect(client.peerName == "aggregator")
        #expect(client.protocolVersion == "TLSv1.3")
        let floats = try client.call(ModelRequest(round: 3), timeout: 5) { reply, stream in
            #expect((reply as? ModelReply)?.layout.tensors.first?.shape == [3000])
            return try #require(stream).readFloats()
        }
        #expect(floats.count == 3000)
        #expect(floats[2999] == 2999)
        let layout = try ModelLayout([TensorSpec(name: "w", shape: [4])])
        let reply = try client.call(TaskResultMessage(round: 1, task: "train", sampleCount: 4, metrics: [:], layout: layout),
                                    stream: FloatBufferSource([1, 2, 3, 4]), timeout: 5)
        #expect((reply as? TaskReply)?.tasks == ["sum=10.0"])
        // Pings are answered by the server itself; anything the handler refuses comes back as ErrorReply.
        try client.call(Ping(), timeout: 5)
        let refusal = #expect(throws: ErrorReply.self) { try client.call(CollaboratorHello(collaborator: "x", experiment: "y"), timeout: 5) }
        #expect(refusal?.code == .badRequest)
        // Each side sees the other's certificate name.
        let whoami = try client.call(TaskRequest(round: 0, maximumWaitSeconds: 0), timeout: 5)
        #expect((whoami as? TaskReply)?.tasks == ["site-1"])
        #expect(fixture.handler.connectedPeers.withLock { $0 } == ["site-1"])
    }

    @Test func concurrentCallsOnOneConnection() throws {
        let fixture = try ServerFixture()
        let client = try fixture.connect(fixture.pki.issue(name: "site-1"))
        defer { client.close() }
        let failures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            do {
                let floats = try client.call(ModelRequest(round: i + 1), timeout: 10) { _, stream in try #require(stream).readFloats() }
                if floats.count != (i + 1) * 1000 || floats.last != Float((i + 1) * 1000 - 1) { failures.add(1, ordering: .relaxed) }
            } catch {
                failures.add(1, ordering: .relaxed)
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
    }

    @Test func streamsTensMegabytesBothWays() throws {
        let fixture = try ServerFixture()
        let server = try FrameServer(configuration: ServerConfiguration(tls: fixture.pki.issue(name: "aggregator", role: .aggregator)),
                                     handler: PatternHandler(), logger: fixture.log.logger())
        defer { server.stop() }
        let client = try FrameClient.connect(host: "127.0.0.1", port: server.port,
                                             context: TLSContext(fixture.pki.issue(name: "site-1"), side: .client), timeout: 5)
        defer { client.close() }
        let mebibytes = 64
        let layout = try ModelLayout([TensorSpec(name: "w", shape: [mebibytes << 18])])
        let upload = try client.call(TaskResultMessage(round: 0, task: "train", sampleCount: 1, metrics: [:], layout: layout),
                                     stream: PatternSource(byteCount: mebibytes << 20), timeout: 60)
        #expect((upload as? TaskReply)?.tasks == ["\(mebibytes << 20) bytes intact"])
        let downloaded = try client.call(ModelRequest(round: mebibytes), timeout: 60) { _, stream in
            try PatternSource.verify(try #require(stream))
        }
        #expect(downloaded == mebibytes << 20)
        // The server counted both streams (and their frames' few hundred bytes more).
        let stream = mebibytes << 20
        #expect(server.traffic.received > stream && server.traffic.received < stream + (64 << 10))
        #expect(server.traffic.sent > stream && server.traffic.sent < stream + (64 << 10))
    }

    // MARK: Refused peers: a clear error, a log line, and the server keeps serving

    enum Refusal: String, CaseIterable, Sendable {
        case noCertificate, otherCA, expired, notYetValid, notAllowed, noRole, wrongRole
    }

    /// A certificate for `name` from `pki` without a role, as issued before roles existed.
    static func roleless(_ pki: TestPKI, name: String) throws -> TLSConfiguration {
        let key = try PrivateKey.generate()
        let certificate = try pki.authority.sign(CertificateRequest(name: name, key: key), optionalRole: nil, validity: .days(1))
        let base = pki.directory.appending("roleless-\(name)-\(UUID().uuidString.prefix(6))")
        try key.write(to: "\(base).key")
        try certificate.write(to: "\(base).crt")
        return TLSConfiguration(caCertificatePath: pki.caCertificatePath, certificatePath: "\(base).crt", privateKeyPath: "\(base).key")
    }

    @Test(arguments: Refusal.allCases)
    func refusesClient(_ refusal: Refusal) throws {
        let fixture = try ServerFixture(allowedPeers: refusal == .notAllowed ? ["site-1"] : nil,
                                        allowedRoles: refusal == .noRole || refusal == .wrongRole ? [.envoy] : nil)
        let pki = fixture.pki
        let now = Date()
        let client: FrameClient
        switch refusal {
        case .noCertificate:
            client = try fixture.connect(pki.issue(name: "site-1"), presentsCertificate: false)
        case .otherCA:
            var tls = try pki.unrelatedAuthority().issue(name: "site-1")
            tls.caCertificatePath = pki.caCertificatePath
            client = try fixture.connect(tls)
        case .expired:
            client = try fixture.connect(pki.issue(name: "site-1", notBefore: now.addingTimeInterval(-86_400), notAfter: now.addingTimeInterval(-60)))
        case .notYetValid:
            client = try fixture.connect(pki.issue(name: "site-1", notBefore: now.addingTimeInterval(3600), notAfter: now.addingTimeInterval(86_400)))
        case .notAllowed:
            client = try fixture.connect(pki.issue(name: "site-1-impostor"))
        case .noRole:
            client = try fixture.connect(Self.roleless(pki, name: "site-1"))
        case .wrongRole:
            client = try fixture.connect(pki.issue(name: "site-1", role: .user))
        }
        defer { client.close() }
        // TLS 1.3 lets the client finish its handshake before the server has judged its
        // certificate; the refusal arrives as an alert on the client's first read.
        let error = #expect(throws: (any Error).self) { try client.call(Ping(), timeout: 5) }
        let text = error.map { "\($0)" } ?? ""
        let (clientSays, serverSays) = switch refusal {
        case .noCertificate: ("alert certificate required", "peer did not return a certificate")
        case .otherCA: ("alert unknown ca", "unable to get local issuer certificate")
        case .expired: ("alert certificate expired", "certificate has expired")
        case .notYetValid: ("alert bad certificate", "certificate is not yet valid")
        case .notAllowed: ("certificate name 'site-1-impostor' is not allowed on this server", "refused site-1-impostor (envoy, 127.0.0.1")
        case .noRole: ("carries no SwiftFL role; reissue it with a role: `fx pki certify --name site-1 --role ROLE`", "refused site-1 (no role,")
        case .wrongRole: ("'site-1' holds a certificate of role user; this server takes envoy", "refused site-1 (user,")
        }
        let refusedAfterHandshake: Set<Refusal> = [.notAllowed, .noRole, .wrongRole]
        #expect(text.contains(clientSays), "client error: \(text)")
        if !refusedAfterHandshake.contains(refusal) { #expect(text.contains("the peer refused this end's certificate"), "client error: \(text)") }
        if refusedAfterHandshake.contains(refusal) { #expect((error as? ErrorReply)?.code == .notAllowed) }
        let line = fixture.expectLogged(serverSays)
        #expect(line?.level == .warning)
        #expect(fixture.handler.connectedPeers.withLock { $0 }.isEmpty, "a refused peer never reaches the handler")
        try fixture.expectServes()
    }

    @Test func clientRefusesServerWhoseNameDoesNotMatch() throws {
        let fixture = try ServerFixture(serverHosts: ["other.example"])
        let error = #expect(throws: TLSError.self) { try fixture.connect(fixture.pki.issue(name: "site-1")) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("IP address mismatch"))
        // The server learns only that the client gave up on it.
        fixture.expectLogged("refused connection from 127.0.0.1")
    }

    @Test func silentPeerIsDroppedAfterTheHandshakeTimeout() throws {
        let fixture = try ServerFixture(handshakeTimeout: 0.3)
        let fd = try Socket.connect(host: "127.0.0.1", port: fixture.server.port, deadline: .after(seconds: 5))
        defer { close(fd) }
        #expect(RawSocket.waitForClose(fd), "server kept a silent connection open")
        fixture.expectLogged("timed out")
        try fixture.expectServes()
    }

    @Test func idleConnectionIsClosed() throws {
        let fixture = try ServerFixture(idleTimeout: 0.3)
        let client = try fixture.connect(fixture.pki.issue(name: "site-1"))
        defer { client.close() }
        fixture.expectLogged("closing idle connection of site-1")
        #expect(throws: (any Error).self) { try client.call(Ping(), timeout: 5) }
    }

    // MARK: Garbage on the TLS port

    @Test(arguments: ["http", "random", "tls-record-of-16-MiB"])
    func refusesGarbageBeforeTLS(_ kind: String) throws {
        let fixture = try ServerFixture()
        let bytes: [UInt8] = switch kind {
        case "http": Array("GET / HTTP/1.1\r\nHost: aggregator\r\n\r\n".utf8)
        case "random": (0..<512).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
        default: [0x16, 0x03, 0x01, 0xFF, 0xFF] + [UInt8](repeating: 0, count: 64)
        }
        let fd = try Socket.connect(host: "127.0.0.1", port: fixture.server.port, deadline: .after(seconds: 5))
        defer { close(fd) }
        try RawSocket.write(fd, bytes)
        #expect(RawSocket.waitForClose(fd), "server kept the connection open")
        fixture.expectLogged("refused connection from 127.0.0.1")
        try fixture.expectServes()
    }

    // MARK: Hostile frames from an authenticated peer

    enum HostileFrame: String, CaseIterable, Sendable {
        case messageOf100GiB, streamOf100GiB, chunkOf100GiB, truncatedFrame, chunkForWrongID, chunkOutsideStream,
             unknownFlags, unknownType, malformedPayload, trailingBytes
    }

    @Test(arguments: HostileFrame.allCases)
    func closesOnlyTheConnectionSendingAHostileFrame(_ kind: HostileFrame) throws {
        let fixture = try ServerFixture()
        let honest = try fixture.connect(fixture.pki.issue(name: "site-1"))
        defer { honest.close() }
        try honest.call(Ping(), timeout: 5)

        let hostile = try TLSConnection.connect(host: "127.0.0.1", port: fixture.server.port,
                                                context: TLSContext(fixture.pki.issue(name: "mallory"), side: .client), timeout: 5)
        defer { hostile.close() }
        let layout = try ModelLayout([TensorSpec(name: "w", shape: [2])])
        let update = TaskResultMessage(round: 0, task: "train", sampleCount: 1, metrics: [:], layout: layout)
        let (bytes, logged): ([UInt8], String) = switch kind {
        case .messageOf100GiB:
            (FrameHeader(length: 100 << 30, type: Ping.type.rawValue, id: 1).bytes, "frame of 107374182400 bytes exceeds the limit")
        case .streamOf100GiB:
            (FrameChannel.encodeFrame(update, id: 1, flags: .stream, streamLength: 100 << 30), "streamLength")
        case .chunkOf100GiB:
            (FrameChannel.encodeFrame(update, id: 1, flags: .stream, streamLength: 8)
                + FrameHeader(length: 100 << 30, type: MessageType.chunk.rawValue, id: 1).bytes,
             "frame of 107374182400 bytes exceeds the limit of 1048576")
        case .truncatedFrame:
            (FrameHeader(length: 100, type: ModelRequest.type.rawValue, id: 1).bytes + [UInt8](repeating: 0, count: 10),
             "connection closed inside a frame (10 of 100 bytes)")
        case .chunkForWrongID:
            (FrameChannel.encodeFrame(update, id: 1, flags: .stream, streamLength: 8)
                + FrameHeader(length: 8, type: MessageType.chunk.rawValue, id: 2).bytes + [UInt8](repeating: 0, count: 8),
             "chunk for id 2 inside stream 1")
        case .chunkOutsideStream:
            (FrameHeader(length: 4, type: MessageType.chunk.rawValue, id: 5).bytes + [0, 0, 0, 0], "chunk with id 5 outside any stream")
        case .unknownFlags:
            (FrameHeader(length: 0, type: Ping.type.rawValue, flags: FrameFlags(rawValue: 0x8000), id: 1).bytes, "unknown flag bits 0x8000")
        case .unknownType:
            (FrameHeader(length: 0, type: 0x7777, id: 1).bytes, "unknown frame type 30583")
        case .malformedPayload:
            (FrameHeader(length: 3, type: ModelRequest.type.rawValue, id: 1).bytes + [1, 2, 3], "malformed ModelRequest")
        case .trailingBytes:
            (FrameHeader(length: 9, type: ModelRequest.type.rawValue, id: 1).bytes + [UInt8](repeating: 0, count: 9), "unexpected trailing bytes")
        }
        try bytes.withUnsafeBytes { try hostile.write($0, deadline: .after(seconds: 5)) }
        if kind == .truncatedFrame {
            hostile.close()
        } else {
            #expect(TLSTestPeer.waitForClose(hostile), "server kept the hostile connection open")
        }
        let line = fixture.expectLogged(logged)
        #expect(line?.fields["peer"] == "mallory")
        // The honest peer's connection is untouched, and new peers are served.
        try honest.call(Ping(), timeout: 5)
        let whoami = try honest.call(TaskRequest(round: 0, maximumWaitSeconds: 0), timeout: 5)
        #expect((whoami as? TaskReply)?.tasks == ["site-1"])
        try fixture.expectServes("site-2")
    }
}

/// Answers with and checks `PatternSource` streams, through one 1 MiB buffer.
final class PatternHandler: FrameHandler {
    func handle(_ request: Request) {
        switch request.message {
        case let m as ModelRequest:
            let source = PatternSource(byteCount: m.round << 20)
            let layout = try! ModelLayout([TensorSpec(name: "w", shape: [source.byteCount / 4])])
            request.responder.reply(ModelReply(round: m.round, layout: layout), stream: source)
        case is TaskResultMessage:
            guard let stream = request.stream else { return request.responder.fail(.badRequest, "no stream") }
            do {
                let count = try PatternSource.verify(stream)
                request.responder.reply(TaskReply(status: .run, round: 0, tasks: ["\(count) bytes intact"]))
            } catch {
                request.responder.fail(.badRequest, "\(error)")
            }
        default:
            request.responder.fail(.badRequest, "unexpected")
        }
    }
}

/// A stream whose every 1 MiB block is one byte value that depends on the block's position, made
/// and checked with memset and memcmp so a debug build moves tens of megabytes quickly.
struct PatternSource: ChunkSource {
    static let block = 1 << 20
    let byteCount: Int

    static func value(at offset: Int) -> UInt8 { UInt8(truncatingIfNeeded: (offset / block) &* 31 &+ 7) }

    func withBytes(offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        // FrameChannel asks for chunk-sized pieces at chunk boundaries: one block, one value.
        precondition(offset % PatternSource.block + count <= PatternSource.block)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 16)
        defer { buffer.deallocate() }
        memset(buffer.baseAddress!, Int32(PatternSource.value(at: offset)), count)
        try body(UnsafeRawBufferPointer(buffer))
    }

    struct Mismatch: Error, CustomStringConvertible {
        var offset: Int
        var description: String { "stream differs in the block at byte \(offset)" }
    }

    /// Reads the whole stream, checking every byte; returns the number of bytes read.
    static func verify(_ stream: InboundStream) throws -> Int {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: block, alignment: 16)
        let expected = UnsafeMutableRawBufferPointer.allocate(byteCount: block, alignment: 16)
        defer { buffer.deallocate(); expected.deallocate() }
        var offset = 0
        while stream.remaining > 0 {
            let n = min(stream.remaining, block)
            try stream.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n]))
            memset(expected.baseAddress!, Int32(value(at: offset)), n)
            guard memcmp(buffer.baseAddress!, expected.baseAddress!, n) == 0 else { throw Mismatch(offset: offset) }
            offset += n
        }
        return offset
    }
}

/// Plain TCP, for sending what no TLS client would.
enum RawSocket {
    static func write(_ fd: Int32, _ bytes: [UInt8]) throws {
        var done = 0
        while done < bytes.count {
            try Socket.wait(fd, for: Int16(POLLOUT), deadline: .after(seconds: 5), operation: "write")
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno != EAGAIN && errno != EINTR { throw TLSError.connection(peer: "raw", reason: String(cString: strerror(errno))) }
            if n > 0 { done += n }
        }
    }

    /// Reads and discards until the peer closes (true) or 5 s pass (false).
    static func waitForClose(_ fd: Int32) -> Bool {
        let deadline = Deadline.after(seconds: 5)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            do { try Socket.wait(fd, for: Int16(POLLIN), deadline: deadline, operation: "close") } catch { return false }
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n == 0 { return true }
            if n < 0 && errno != EAGAIN && errno != EINTR { return true }
        }
    }
}

/// A TLS peer sending raw frames.
enum TLSTestPeer {
    /// Reads and discards until the server closes the connection (true) or 5 s pass (false).
    static func waitForClose(_ connection: TLSConnection) -> Bool {
        let deadline = Deadline.after(seconds: 5)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            do {
                let n = try buffer.withUnsafeMutableBytes { try connection.read(into: $0, deadline: deadline) }
                if n == 0 { return true }
            } catch is TimeoutError {
                return false
            } catch {
                return true
            }
        }
    }
}
