import Foundation
import Testing
import FLCore
import FLTesting
@testable import FLWire

/// The client's keep-alive timer: one at most, stopped by `close()`, and never started after it.
@Suite struct FrameClientTests {
    @Test func keepAliveStartsOnceAndStopsIdempotently() throws {
        let fixture = try ServerFixture()
        let client = try fixture.connect(fixture.pki.issue(name: "site-1"))
        #expect(!client.isKeepingAlive)
        client.startKeepAlive(interval: 60)
        client.startKeepAlive(interval: 60)
        #expect(client.isKeepingAlive)
        client.stopKeepAlive()
        client.stopKeepAlive()
        #expect(!client.isKeepingAlive)
        client.startKeepAlive(interval: 60)
        #expect(client.isKeepingAlive)
        // The connection still serves calls while pings are scheduled.
        let reply = try client.call(TaskRequest(round: 0, maximumWaitSeconds: 0), timeout: 5)
        #expect((reply as? TaskReply)?.tasks == ["site-1"])
        client.close()
        client.close()
        #expect(!client.isKeepingAlive)
    }

    @Test func keepAliveNeverStartsAfterClose() throws {
        let fixture = try ServerFixture()
        let client = try fixture.connect(fixture.pki.issue(name: "site-1"))
        client.close()
        client.startKeepAlive(interval: 60)
        #expect(!client.isKeepingAlive)
    }

    /// Starts, stops and a close from many threads at once: whatever the order, a closed client keeps no timer.
    @Test func concurrentStartAndCloseLeaveNoTimer() throws {
        let fixture = try ServerFixture()
        for _ in 0..<20 {
            let client = try fixture.connect(fixture.pki.issue(name: "site-1"))
            DispatchQueue.concurrentPerform(iterations: 16) { i in
                switch i % 4 {
                case 0: client.close()
                case 1: client.stopKeepAlive()
                default: client.startKeepAlive(interval: 60)
                }
            }
            #expect(!client.isKeepingAlive)
        }
    }

    /// Every role reaches its server this way: a server whose certificate has another name or role is left at once.
    @Test func connectingChecksTheServersNameAndRole() throws {
        let fixture = try ServerFixture()
        let context = try TLSContext(fixture.pki.issue(name: "site-1"), side: .client)
        let server = Endpoint(host: "127.0.0.1", port: fixture.server.port)
        let client = try FrameClient.connect(to: server, expecting: ExpectedPeer(name: "aggregator", role: .aggregator), context: context,
                                             timeout: 5, idleTimeout: 30)
        #expect(client.peerName == "aggregator" && client.peerRole == .aggregator)
        client.close()
        for wrong in [ExpectedPeer(name: "director", role: .aggregator), ExpectedPeer(name: "aggregator", role: .director)] {
            #expect {
                try FrameClient.connect(to: server, expecting: wrong, context: context, timeout: 5, idleTimeout: 30)
            } throws: { error in
                guard case let .unexpectedPeer(address, _) = error as? TLSError else { return false }
                return address == "127.0.0.1:\(fixture.server.port)"
            }
        }
    }
}
