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
}
