#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import FLCore
import FLTesting
@testable import FLWire

/// Connections that try to exhaust a server: idle TCP connections by the hundred, half-sent
/// handshakes, one certificate opening many connections, and running out of descriptors.
@Suite struct FrameServerLimitsTests {
    /// The first bytes of a TLS record announcing 512 bytes of handshake that never come.
    static let partialHello: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00]

    @Test func anHonestClientIsServedThroughAFloodOfIdleConnections() throws {
        // Each idle socket is two descriptors in this process (both ends live here), and other tests
        // run alongside: 650 of them where the limit allows, and always well beyond the 128 kept.
        let count = min(650, (ProcessSetup.raiseDescriptorLimit() - 400) / 2)
        try #require(count >= 300, "the descriptor limit is too low for this test; raise `ulimit -n`")
        let fixture = try ServerFixture()
        let threadsBefore = try #require(ResourceUsage.threadCount())
        let flood = try TCPFlood(port: fixture.server.port, count: count)
        // The server takes the whole flood in: it keeps the newest 128 from this address and closes the rest.
        try eventually(timeout: 20, "the server closed \(flood.closedByServer()) of \(count) idle connections") {
            flood.closedByServer() >= count - 128
        }
        let threadsDuring = try #require(ResourceUsage.threadCount())
        #expect(fixture.server.pendingHandshakeCount <= 128)

        // Served within the client's own connect and call timeouts (5 s each).
        try fixture.expectServes()
        // No thread per idle socket: a few threads of other tests running alongside at most.
        #expect(threadsDuring - threadsBefore < 50, "threads went from \(threadsBefore) to \(threadsDuring) with \(count) idle connections open")
        // Hundreds of evictions, a line or two.
        let evictions = fixture.log.lines.filter { $0.message.contains("idle connection") }
        #expect(!evictions.isEmpty && evictions.count <= 2, "\(evictions.map(\.message))")
        #expect(evictions.first?.message.contains("128 handshakes pending from 127.0.0.1 (the limit per address)") == true,
                "\(evictions.map(\.message))")
    }

    @Test func overTheAddressLimitTheOldestIdleConnectionMakesRoom() throws {
        let fixture = try ServerFixture { $0.maximumPendingHandshakesPerAddress = 4 }
        let first = try TCPFlood(port: fixture.server.port, count: 4)
        let fifth = try TCPFlood(port: fixture.server.port, count: 1)
        #expect(RawSocket.waitForClose(first.fds[0]), "the oldest idle connection was kept")
        // Evictions happen only as newcomers are admitted: nothing else is closed.
        #expect(first.closedByServer() == 1 && fifth.closedByServer() == 0)
        #expect(fixture.server.pendingHandshakeCount == 4)
        let line = fixture.expectLogged("closed the idle connection of 127.0.0.1:")
        #expect(line?.message.contains("4 handshakes pending from 127.0.0.1 (the limit per address)") == true, "\(line?.message ?? "")")
        try fixture.expectServes()
    }

    @Test func overTheGlobalLimitTheOldestIdleConnectionMakesRoom() throws {
        let fixture = try ServerFixture { $0.maximumPendingHandshakes = 3 }
        let first = try TCPFlood(port: fixture.server.port, count: 3)
        let fourth = try TCPFlood(port: fixture.server.port, count: 1)
        #expect(RawSocket.waitForClose(first.fds[0]), "the oldest idle connection was kept")
        #expect(first.closedByServer() == 1 && fourth.closedByServer() == 0)
        let line = fixture.expectLogged("closed the idle connection of 127.0.0.1:")
        #expect(line?.message.contains("3 handshakes pending (the limit)") == true, "\(line?.message ?? "")")
        try fixture.expectServes()
    }

    @Test func whenNoPendingPeerIsIdleTheNewcomerIsRefusedUntilTheHandshakeTimeout() throws {
        let fixture = try ServerFixture(handshakeTimeout: 1) { $0.maximumPendingHandshakesPerAddress = 4 }
        let slow = try TCPFlood(port: fixture.server.port, count: 4, sending: Self.partialHello)
        let newcomer = try TCPFlood(port: fixture.server.port, count: 1)
        #expect(RawSocket.waitForClose(newcomer.fds[0]), "the newcomer was kept over the limit")
        let line = fixture.expectLogged("refused connection from 127.0.0.1:")
        #expect(line?.message.contains("4 handshakes pending from 127.0.0.1 (the limit per address), none of them idle") == true,
                "\(line?.message ?? "")")
        #expect(slow.closedByServer() == 0, "a peer that has spoken is never evicted")
        // The handshake timeout ends the slow ones; then there is room again.
        fixture.expectLogged("timed out: TLS handshake with 127.0.0.1:")
        try fixture.expectServes()
        #expect(slow.closedByServer() == 4)
    }

    @Test func oneCertificateNameCannotHoldMoreThanItsShare() throws {
        let fixture = try ServerFixture { $0.maximumConnectionsPerName = 2 }
        let tls = try fixture.pki.issue(name: "site-1")
        let a = try fixture.connect(tls)
        let b = try fixture.connect(tls)
        defer { a.close(); b.close() }
        try a.call(Ping(), timeout: 5)
        try b.call(Ping(), timeout: 5)
        let c = try fixture.connect(tls)
        defer { c.close() }
        let error = #expect(throws: ErrorReply.self) { try c.call(Ping(), timeout: 5) }
        #expect(error?.code == .notAllowed)
        #expect(error?.message.contains("2 connections of 'site-1' are open already (the limit per certificate name)") == true,
                "\(error.map { "\($0)" } ?? "")")
        fixture.expectLogged("refused site-1 (envoy, 127.0.0.1:")
        // Other names are not affected, and a closed connection makes room.
        try fixture.expectServes("site-2")
        a.close()
        try eventually(timeout: 10, "the server still counts \(fixture.server.connectionCount) connections") { fixture.server.connectionCount == 1 }
        let d = try fixture.connect(tls)
        defer { d.close() }
        try d.call(Ping(), timeout: 5)
    }

    @Test func beyondMaximumConnectionsAnAuthenticatedPeerIsTurnedAway() throws {
        let fixture = try ServerFixture { $0.maximumConnections = 1 }
        let first = try fixture.connect(fixture.pki.issue(name: "site-1"))
        defer { first.close() }
        try first.call(Ping(), timeout: 5)
        let second = try fixture.connect(fixture.pki.issue(name: "site-2"))
        defer { second.close() }
        let error = #expect(throws: ErrorReply.self) { try second.call(Ping(), timeout: 5) }
        #expect(error?.message.contains("1 connections are open already (the server's limit)") == true, "\(error.map { "\($0)" } ?? "")")
        fixture.expectLogged("refused site-2 (envoy, 127.0.0.1:")
    }

    /// A real aggregator process limited to 64 descriptors. Idle connections beyond its budget make
    /// room for newer ones; connections that have each sent a few bytes cannot, so the server must
    /// refuse and back off rather than spin (it did: 100 % CPU and 20,000 log lines a second), and it
    /// must not let the process run out (libdispatch traps when it cannot make a timer descriptor).
    /// Measured in the child, so nothing else in this process is disturbed.
    @Test func outOfDescriptorsTheServerBacksOffInsteadOfSpinning() throws {
        let fixture = try FederationFixture(template: "breast_cancer", collaborators: ["site_1"])
        try fixture.write("plan/cols.yaml", "collaborators:\n  - site_1\n")
        try fixture.initialize()
        let (aggregator, port) = try fixture.startAggregator(launcher: Launcher.limitedDescriptors(64))
        let pid = aggregator.process.pid
        let site = TLSConfiguration(certificateDirectory: "\(fixture.workspace)/cert", name: "site_1")
        func expectServed(_ when: String) throws {
            // Served within the client's own connect and call timeouts.
            do {
                let client = try FrameClient.connect(host: "127.0.0.1", port: port, context: TLSContext(site, side: .client), timeout: 10,
                                                     expecting: ExpectedPeer(name: "aggregator", role: .aggregator))
                defer { client.close() }
                try client.call(Ping(), timeout: 10)
            } catch {
                Issue.record("\(when): \(error); the aggregator logged:\n\(aggregator.errorTail())")
                throw error
            }
        }

        // Idle connections: more than it has descriptors for; the oldest idle ones make room.
        let idle = try TCPFlood(port: port, count: 150)
        try expectServed("through 150 idle connections")

        // Connections that have spoken cannot be closed to make room: accept runs out.
        let slow = try TCPFlood(port: port, count: 150, sending: Self.partialHello)
        try aggregator.waitForErrorLine(timeout: 15) { $0.contains("none of them idle; pausing accepts for 10 ms") }
        let before = try #require(ResourceUsage.of(pid: pid))
        let linesBefore = aggregator.errorLines.count
        _ = poll(nil, 0, 2000)  // the measurement window, not a wait for anything
        let after = try #require(ResourceUsage.of(pid: pid))
        let cpu = after.cpuSeconds - before.cpuSeconds
        #expect(cpu < 0.3, "the aggregator used \(cpu) CPU-s in 2 s while out of descriptors")
        let newLines = aggregator.errorLines.dropFirst(linesBefore)
        #expect(newLines.count <= 3, "\(newLines.count) log lines in 2 s: \(newLines.prefix(5))")
        let threads = try #require(ResourceUsage.threadCount(pid: pid))
        #expect(threads < 30, "\(threads) threads")

        // The flood ends: descriptors come back and the server serves at once.
        idle.closeAll()
        slow.closeAll()
        try expectServed("after the flood")
        #expect(aggregator.process.status == nil, "the aggregator died: \(aggregator.errorTail())")
        #expect(!aggregator.errorLines.contains { $0.contains("Signal") || $0.contains("Fatal error") }, "\(aggregator.errorTail())")
    }
}

/// Many plain TCP connections to a port from this process, optionally each sending a few bytes,
/// kept open until closed or released.
final class TCPFlood {
    private(set) var fds: [Int32] = []

    init(port: Int, count: Int, sending bytes: [UInt8] = []) throws {
        fds.reserveCapacity(count)
        do {
            for _ in 0..<count {
                let fd = try Socket.connect(host: "127.0.0.1", port: port, deadline: .after(seconds: 10))
                fds.append(fd)
                if !bytes.isEmpty { try RawSocket.write(fd, bytes) }
            }
        } catch {
            closeAll()
            throw error
        }
    }

    deinit { closeAll() }

    /// How many of the connections the server has closed (end of stream or reset waiting to be read).
    func closedByServer() -> Int {
        var polled = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        guard poll(&polled, nfds_t(polled.count), 0) > 0 else { return 0 }
        var closed = 0
        var byte: UInt8 = 0
        for p in polled where p.revents != 0 {
            let n = recv(p.fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
            if n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { closed += 1 }
        }
        return closed
    }

    func closeAll() {
        for fd in fds { close(fd) }
        fds.removeAll()
    }
}

/// Waits until `condition` holds, checking every few milliseconds, or records an issue after
/// `timeout` seconds (then throws, so the test stops there).
func eventually(timeout: Double, _ what: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation,
                _ condition: () throws -> Bool) throws {
    let deadline = Deadline.after(seconds: timeout)
    while try !condition() {
        if deadline.hasPassed {
            Issue.record("not within \(timeout) s: \(what())", sourceLocation: sourceLocation)
            throw TimeoutError(what())
        }
        _ = poll(nil, 0, 5)
    }
}
