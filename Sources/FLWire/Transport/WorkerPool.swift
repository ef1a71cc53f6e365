import Foundation
import Synchronization

/// Threads that run blocking jobs (the requests of a server's connections, the replies posted to
/// peers: `Responder.post`): at most
/// `maximumThreads` at once, and one at a time per key (a connection), so each peer's replies go out
/// in order and one peer asking again and again cannot take every thread. Keys take turns in the
/// order their jobs became runnable; a key with `maximumQueuedPerKey` jobs waiting is refused more
/// (its peer is not reading: the caller closes it), so nothing grows without bound.
///
/// Threads are made when a job finds none idle, and end after `idleSeconds` without work, so an
/// idle pool holds none; blocking I/O never runs on the Swift concurrency pool or on Dispatch's.
final class WorkerPool: Sendable {
    let name: String
    let maximumThreads: Int
    let maximumQueuedPerKey: Int
    let idleSeconds: Double

    typealias Job = @Sendable () -> Void

    private struct State {
        /// Jobs waiting, per key, in order.
        var queued: [UInt64: [Job]] = [:]
        /// Keys with jobs waiting and none running, in the order they became so (from `readyHead`).
        var ready: [UInt64] = []
        var readyHead = 0
        /// Keys with a job running now.
        var running: Set<UInt64> = []
        var threads = 0
        /// Threads waiting for work.
        var idle = 0

        var runnableKeys: Int { ready.count - readyHead }

        /// Queues `job`; false when its key already has `limit` waiting.
        mutating func append(_ job: @escaping Job, key: UInt64, limit: Int?) -> Bool {
            let waiting = queued[key, default: []].count
            if let limit, waiting >= limit { return false }
            queued[key, default: []].append(job)
            if waiting == 0 && !running.contains(key) { ready.append(key) }
            return true
        }

        /// The next job of the first ready key, its key marked running.
        mutating func takeRunnable() -> (UInt64, Job)? {
            guard readyHead < ready.count else { return nil }
            let key = ready[readyHead]
            readyHead += 1
            if readyHead > 64 && readyHead * 2 > ready.count {
                ready.removeFirst(readyHead)
                readyHead = 0
            }
            var jobs = queued.removeValue(forKey: key)!
            let job = jobs.removeFirst()
            if !jobs.isEmpty { queued[key] = jobs }
            running.insert(key)
            return (key, job)
        }

        /// `key`'s job ended: its next job, if any, becomes ready.
        mutating func finished(_ key: UInt64) {
            running.remove(key)
            if queued[key] != nil { ready.append(key) }
        }
    }

    private let state = Mutex(State())
    /// Signalled for each job no new thread was made for; a signal no thread needed only wakes one for nothing.
    private let work = DispatchSemaphore(value: 0)

    init(name: String, maximumThreads: Int, maximumQueuedPerKey: Int = 1024, idleSeconds: Double = 30) {
        precondition(maximumThreads > 0 && maximumQueuedPerKey > 0, "a WorkerPool needs at least one thread and one place per key")
        self.name = name
        self.maximumThreads = maximumThreads
        self.maximumQueuedPerKey = maximumQueuedPerKey
        self.idleSeconds = idleSeconds
    }

    /// Threads alive now (running a job or waiting for one).
    var threadCount: Int { state.withLock { $0.threads } }

    /// Runs `body` on a thread of the pool, after the jobs submitted before it with the same `key`;
    /// false (and `body` dropped) when `key` already has `maximumQueuedPerKey` jobs waiting, unless
    /// `always` (for the one job that must follow the others, such as a connection's last).
    @discardableResult
    func submit(key: UInt64, always: Bool = false, _ body: @escaping Job) -> Bool {
        let (accepted, spawn): (Bool, Bool) = state.withLock { s in
            guard s.append(body, key: key, limit: always ? nil : maximumQueuedPerKey) else { return (false, false) }
            // A new thread only when the keys that could start now outnumber the threads waiting for
            // one (a woken thread may not have taken its job yet, so `idle` alone would undercount).
            guard s.threads < maximumThreads, s.runnableKeys > s.idle else { return (true, false) }
            s.threads += 1
            return (true, true)
        }
        guard accepted else { return false }
        if spawn {
            let thread = Thread { [self] in workLoop() }
            thread.name = name
            thread.stackSize = 256 << 10
            thread.start()
        } else {
            work.signal()
        }
        return true
    }

    private func workLoop() {
        var finished: UInt64?
        while true {
            let next: (UInt64, Job)? = state.withLock { s in
                if let key = finished { s.finished(key) }
                return s.takeRunnable()
            }
            if let (key, job) = next {
                job()
                finished = key
                continue
            }
            finished = nil
            state.withLock { $0.idle += 1 }
            let woken = work.wait(timeout: .now() + idleSeconds) == .success
            // Decided under the lock, so a job submitted as this thread gives up is taken, or sees it gone and makes a thread.
            let exit: Bool = state.withLock { s in
                s.idle -= 1
                guard !woken, s.runnableKeys == 0 else { return false }
                s.threads -= 1
                return true
            }
            if exit { return }
        }
    }
}
