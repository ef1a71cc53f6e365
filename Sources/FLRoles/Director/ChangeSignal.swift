import Foundation

/// Wakes every thread waiting for the Director's state to change (the scheduling loop and each
/// experiment's runner), unlike a semaphore, whose one signal wakes one waiter. A waiter reads
/// `generation` before it looks at the state, then waits for it to move on, so a change made
/// between the look and the wait is not missed.
final class ChangeSignal: @unchecked Sendable {
    // `generation` is only read and written with `condition` locked.
    private let condition = NSCondition()
    private var count: UInt64 = 0

    /// How many changes were signalled so far.
    var generation: UInt64 {
        condition.lock()
        defer { condition.unlock() }
        return count
    }

    /// Announces a change to every waiter.
    func signal() {
        condition.lock()
        count &+= 1
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until a change after `seen` is signalled, or `timeout` seconds pass.
    func wait(after seen: UInt64, timeout: Double) {
        let deadline = Date(timeIntervalSinceNow: max(0, timeout))
        condition.lock()
        defer { condition.unlock() }
        while count == seen {
            if !condition.wait(until: deadline) { return }
        }
    }
}
