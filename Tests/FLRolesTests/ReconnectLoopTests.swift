import Foundation
import Synchronization
import Testing
@testable import FLRoles

/// The one way a site keeps reaching its server: backoff between attempts, and a stop that ends a wait at once.
@Suite struct ReconnectLoopTests {
    struct Refused: Error {}

    @Test func backoffDoublesUpToItsMaximumWithJitterAndResets() {
        var backoff = Backoff(initial: 0.1, maximum: 1)
        var ceilings: [Double] = []
        for _ in 0..<7 {
            let ceiling = backoff.nextCeiling
            let delay = backoff.next()
            #expect(delay >= ceiling / 2 && delay <= ceiling)
            ceilings.append(ceiling)
        }
        #expect(ceilings == [0.1, 0.2, 0.4, 0.8, 1, 1, 1])
        backoff.reset()
        #expect(backoff.nextCeiling == 0.1)
    }

    /// Waits grow while the server cannot be reached, start afresh once it was, and the loop
    /// returns what the finishing attempt returned.
    @Test func waitsFollowTheBackoffAndStartAfreshAfterAConnection() throws {
        let loop = ReconnectLoop(backoff: Backoff(initial: 0.001, maximum: 0.004))
        let steps: [ReconnectStep<String>] = [.unreachable(reason: "a"), .unreachable(reason: "b"), .unreachable(reason: "c"),
                                              .unreachable(reason: "d"), .lost(reason: "e", waitFirst: true), .unreachable(reason: "f"),
                                              .lost(reason: "g", waitFirst: false), .finished("done")]
        var next = 0
        var waits: [(String, Double)] = []
        let result = loop.run(willWait: { waits.append(($0, $1)) }) { () -> ReconnectStep<String> in
            defer { next += 1 }
            return steps[next]
        }
        #expect(result == "done")
        #expect(next == steps.count)
        // No wait after "g": lost without waiting first.
        #expect(waits.map(\.0) == ["a", "b", "c", "d", "e", "f"])
        let ceilings = [0.001, 0.002, 0.004, 0.004, 0.001, 0.002]
        for ((reason, delay), ceiling) in zip(waits, ceilings) {
            #expect(delay >= ceiling / 2 && delay <= ceiling, "\(reason): \(delay) s, ceiling \(ceiling) s")
        }
    }

    @Test func anErrorFromAnAttemptEndsTheLoop() {
        let loop = ReconnectLoop(backoff: Backoff(initial: 0.001, maximum: 0.001))
        var attempts = 0
        #expect(throws: Refused.self) {
            try loop.run(willWait: { _, _ in }) { () throws -> ReconnectStep<Void> in
                attempts += 1
                if attempts == 3 { throw Refused() }
                return .unreachable(reason: "not yet")
            }
        }
        #expect(attempts == 3)
    }

    /// A wait of many minutes ends as soon as `stop()` is called, and no attempt follows.
    @Test func stopEndsAWaitAtOnce() {
        let loop = ReconnectLoop(backoff: Backoff(initial: 1000, maximum: 1000))
        let waiting = DispatchSemaphore(value: 0)
        let returned = DispatchSemaphore(value: 0)
        let attempts = Atomic<Int>(0)
        let outcome = Mutex<String?>(nil)
        let thread = Thread {
            let result = loop.run(willWait: { _, _ in waiting.signal() }) { () -> ReconnectStep<String> in
                attempts.add(1, ordering: .relaxed)
                return .unreachable(reason: "down")
            }
            outcome.withLock { $0 = result ?? "stopped" }
            returned.signal()
        }
        thread.start()
        #expect(waiting.wait(timeout: .now() + 30) == .success)
        loop.stop()
        // The guard is far shorter than the 500 s the wait would otherwise take.
        #expect(returned.wait(timeout: .now() + 30) == .success)
        #expect(outcome.withLock { $0 } == "stopped")
        #expect(attempts.load(ordering: .relaxed) == 1)
        // Stopped stays stopped: a later run makes no attempt.
        let again = loop.run(willWait: { _, _ in }) { () -> ReconnectStep<String> in .finished("ran") }
        #expect(again == nil)
    }

    /// A stop during an attempt (as when `stop()` closes the connection) ends the loop without a wait.
    @Test func stopDuringAnAttemptEndsWithoutWaiting() {
        let loop = ReconnectLoop(backoff: Backoff(initial: 1000, maximum: 1000))
        var waits = 0
        let result = loop.run(willWait: { _, _ in waits += 1 }) { () -> ReconnectStep<Int> in
            loop.stop()
            loop.stop()
            return .lost(reason: "closed", waitFirst: true)
        }
        #expect(result == nil)
        #expect(waits == 0)
    }
}
