import Foundation
import Synchronization

/// Threads that run blocking jobs (the replies posted to peers: `Responder.post`): at most
/// `maximumThreads` at once, in the order submitted, and one at a time per key (a connection), so
/// each peer's replies go out in order and one peer asking again and again cannot take every thread.
/// Jobs beyond that wait their turn.
///
/// Threads are made when a job finds none idle, and end after `idleSeconds` without work, so an
/// idle pool holds none; blocking I/O never runs on the Swift concurrency pool or on Dispatch's.
final class WorkerPool: Sendable {
    let name: String
    let maximumThreads: Int
    let idleSeconds: Double

    private struct Job {
        var key: UInt64
        var body: @Sendable () -> Void
    }

    private struct State {
        var queue: [Job] = []
        /// Keys with a job running now.
        var running: Set<UInt64> = []
        var threads = 0
        /// Threads waiting for work.
        var idle = 0

        /// Keys with a job waiting that could start now: one job per key can run at a time.
        var runnableKeys: Int { Set(queue.lazy.map(\.key).filter { !running.contains($0) }).count }

        /// Takes the first job whose key has none running, and marks its key running.
        mutating func takeRunnable() -> Job? {
            guard let index = queue.firstIndex(where: { !running.contains($0.key) }) else { return nil }
            let job = queue.remove(at: index)
            running.insert(job.key)
            return job
        }
    }

    private let state = Mutex(State())
    /// Signalled for each job no new thread was made for; a signal no thread needed only wakes one for nothing.
    private let work = DispatchSemaphore(value: 0)

    init(name: String, maximumThreads: Int, idleSeconds: Double = 30) {
        precondition(maximumThreads > 0, "a WorkerPool needs at least one thread")
        self.name = name
        self.maximumThreads = maximumThreads
        self.idleSeconds = idleSeconds
    }

    /// Threads alive now (running a job or waiting for one).
    var threadCount: Int { state.withLock { $0.threads } }

    /// Runs `body` on a thread of the pool, after the jobs submitted before it with the same `key`.
    func submit(key: UInt64, _ body: @escaping @Sendable () -> Void) {
        let spawn: Bool = state.withLock { s in
            s.queue.append(Job(key: key, body: body))
            // A new thread only when the jobs that could start now outnumber the threads waiting for
            // one (a woken thread may not have taken its job yet, so `idle` alone would undercount).
            guard s.threads < maximumThreads, s.runnableKeys > s.idle else { return false }
            s.threads += 1
            return true
        }
        if spawn {
            let thread = Thread { [self] in workLoop() }
            thread.name = name
            thread.stackSize = 256 << 10
            thread.start()
        } else {
            work.signal()
        }
    }

    private func workLoop() {
        var finished: UInt64?
        while true {
            let job: Job? = state.withLock { s in
                if let key = finished { s.running.remove(key) }
                return s.takeRunnable()
            }
            if let job {
                job.body()
                finished = job.key
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
