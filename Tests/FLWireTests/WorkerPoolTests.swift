import Foundation
import Synchronization
import Testing
@testable import FLWire

/// The writers of posted replies: bounded, in order, one job at a time per connection.
@Suite struct WorkerPoolTests {
    /// Counts the jobs running at once, and the most ever seen.
    final class Gauge: Sendable {
        private let counts = Mutex((now: 0, most: 0))
        func enter() { counts.withLock { $0.now += 1; $0.most = max($0.most, $0.now) } }
        func leave() { counts.withLock { $0.now -= 1 } }
        var most: Int { counts.withLock { $0.most } }
    }

    @Test func runsAtMostItsThreadsAtOnceAndEveryJobInTheEnd() {
        let pool = WorkerPool(name: "test", maximumThreads: 3)
        let gauge = Gauge()
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        for key in 0..<8 {
            pool.submit(key: UInt64(key)) {
                gauge.enter()
                started.signal()
                release.wait()
                gauge.leave()
                done.signal()
            }
        }
        // Three start together (each one is held until released)...
        for _ in 0..<3 { #expect(started.wait(timeout: .now() + 30) == .success) }
        #expect(pool.threadCount == 3)
        // ...and the rest follow as threads come free.
        for _ in 0..<8 { release.signal() }
        for _ in 0..<8 { #expect(done.wait(timeout: .now() + 30) == .success) }
        #expect(gauge.most == 3)
        #expect(pool.threadCount <= 3)
    }

    @Test func jobsOfOneKeyRunOneAtATimeInOrderWhileOtherKeysGoOn() {
        let pool = WorkerPool(name: "test", maximumThreads: 4)
        let order = Mutex<[Int]>([])
        let firstStarted = DispatchSemaphore(value: 0)
        let releaseFirst = DispatchSemaphore(value: 0)
        let otherDone = DispatchSemaphore(value: 0)
        let allDone = DispatchSemaphore(value: 0)
        pool.submit(key: 1) {
            firstStarted.signal()
            releaseFirst.wait()
            order.withLock { $0.append(0) }
            allDone.signal()
        }
        #expect(firstStarted.wait(timeout: .now() + 30) == .success)
        for i in 1..<4 {
            pool.submit(key: 1) {
                order.withLock { $0.append(i) }
                allDone.signal()
            }
        }
        // Another connection's job runs while the first connection's is held.
        pool.submit(key: 2) { otherDone.signal() }
        #expect(otherDone.wait(timeout: .now() + 30) == .success)
        #expect(order.withLock { $0 }.isEmpty, "a job of key 1 ran while the first one was held")
        releaseFirst.signal()
        for _ in 0..<4 { #expect(allDone.wait(timeout: .now() + 30) == .success) }
        #expect(order.withLock { $0 } == [0, 1, 2, 3])
    }
}

extension WorkerPoolTests {
    @Test func aKeyWithTooManyJobsWaitingIsRefusedMoreWhileOthersAreTaken() {
        let pool = WorkerPool(name: "test", maximumThreads: 2, maximumQueuedPerKey: 3)
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let ran = Mutex(0)
        let each = DispatchSemaphore(value: 0)
        #expect(pool.submit(key: 7) { started.signal(); release.wait() })
        #expect(started.wait(timeout: .now() + 30) == .success)
        // Key 7 is busy: three more wait, the fourth is refused; another key is still taken.
        for _ in 0..<3 { #expect(pool.submit(key: 7) { ran.withLock { $0 += 1 }; each.signal() }) }
        #expect(!pool.submit(key: 7) { ran.withLock { $0 += 100 } })
        let other = DispatchSemaphore(value: 0)
        #expect(pool.submit(key: 8) { other.signal() })
        #expect(other.wait(timeout: .now() + 30) == .success)
        // Once the queue drains, the key is taken again.
        release.signal()
        for _ in 0..<3 { #expect(each.wait(timeout: .now() + 30) == .success) }
        let drained = DispatchSemaphore(value: 0)
        #expect(pool.submit(key: 7) { drained.signal() })
        #expect(drained.wait(timeout: .now() + 30) == .success)
        #expect(ran.withLock { $0 } == 3)
    }
}
