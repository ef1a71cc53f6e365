import Foundation
import Synchronization

/// What one attempt of a `ReconnectLoop` came to.
enum ReconnectStep<Result> {
    /// Done: the loop returns `result`.
    case finished(Result)
    /// The server was reached and then lost (`reason`): the backoff starts afresh, and the next
    /// attempt comes at once, or after the first delay when `waitFirst`.
    case lost(reason: String, waitFirst: Bool)
    /// The server could not be reached (`reason`): the next attempt waits the next, longer delay.
    case unreachable(reason: String)
}

/// How a site keeps reaching a server it dials out to (a collaborator its aggregator, an Envoy its
/// Director): attempt after attempt, waiting longer each time the server cannot be reached
/// (`Backoff`, with jitter), until an attempt finishes or `stop()` is called. A stop wakes a wait at
/// once: the wait is on a semaphore with a timeout, never a sleep.
final class ReconnectLoop: Sendable {
    private let stopped = Atomic<Bool>(false)
    /// Signalled by `stop()`, and signalled again by each wait it ends, so every later wait ends too.
    private let stopSignal = DispatchSemaphore(value: 0)
    private let backoff: Mutex<Backoff>

    init(backoff: Backoff) {
        self.backoff = Mutex(backoff)
    }

    /// Ends the loop: a wait under way ends now, and no attempt starts after the one under way. Idempotent.
    func stop() {
        if !stopped.exchange(true, ordering: .acquiringAndReleasing) { stopSignal.signal() }
    }

    var isStopped: Bool { stopped.load(ordering: .acquiring) }

    /// Runs `attempt` until it finishes (its result is returned) or the loop is stopped (nil).
    /// `willWait` hears each wait before it starts: why, and for how many seconds. Errors that
    /// `attempt` throws end the loop: they are the ones retrying cannot mend.
    func run<Result>(willWait: (_ reason: String, _ seconds: Double) -> Void,
                     _ attempt: () throws -> ReconnectStep<Result>) rethrows -> Result? {
        while !isStopped {
            let reason: String
            switch try attempt() {
            case let .finished(result):
                return result
            case let .lost(why, waitFirst):
                backoff.withLock { $0.reset() }
                guard waitFirst else { continue }
                reason = why
            case let .unreachable(why):
                reason = why
            }
            // Stopped during the attempt (which is often how the attempt ended): no wait to announce.
            if isStopped { return nil }
            let delay = backoff.withLock { $0.next() }
            willWait(reason, delay)
            if !wait(seconds: delay) { return nil }
        }
        return nil
    }

    /// Waits `seconds` unless stopped meanwhile; false when stopped.
    private func wait(seconds: Double) -> Bool {
        if stopSignal.wait(timeout: .now() + seconds) == .success {
            stopSignal.signal()
            return false
        }
        return !isStopped
    }
}
