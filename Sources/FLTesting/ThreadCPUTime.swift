#if canImport(Glibc)
import Glibc
#endif

/// CPU time of the calling thread, for tests that check how a cost grows with input size: unlike
/// wall time it does not count other tests running in parallel, and best-of-N removes most noise.
public enum ThreadCPUTime {
    /// Seconds of CPU this thread has used.
    public static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// The least CPU time `body` took over `runs` runs.
    public static func best(of runs: Int = 3, _ body: () throws -> Void) rethrows -> Double {
        var best = Double.infinity
        for _ in 0..<runs {
            let start = now()
            try body()
            best = min(best, now() - start)
        }
        return best
    }
}
