#if canImport(Glibc)
import Glibc
#endif

/// A point in monotonic time after which a wait gives up. Every blocking call in FLWire takes one.
public struct Deadline: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Nanoseconds on the monotonic clock.
    public let uptimeNanoseconds: UInt64

    public init(uptimeNanoseconds: UInt64) { self.uptimeNanoseconds = uptimeNanoseconds }

    /// The current monotonic time.
    public static var now: Deadline { Deadline(uptimeNanoseconds: monotonicNanoseconds()) }

    /// A deadline that never passes.
    public static let never = Deadline(uptimeNanoseconds: .max)

    /// `seconds` from now.
    public static func after(seconds: Double) -> Deadline {
        if seconds.isInfinite || seconds > 1e9 { return .never }
        let delta = UInt64(Swift.max(0, seconds) * 1e9)
        let now = monotonicNanoseconds()
        let (sum, overflow) = now.addingReportingOverflow(delta)
        return Deadline(uptimeNanoseconds: overflow ? .max : sum)
    }

    /// Seconds left, 0 when passed.
    public var remainingSeconds: Double {
        let now = Deadline.monotonicNanoseconds()
        return uptimeNanoseconds <= now ? 0 : Double(uptimeNanoseconds - now) / 1e9
    }

    /// Seconds since this instant, 0 while it is still ahead: how long something that started here took.
    public var elapsedSeconds: Double { elapsedSeconds(at: .now) }

    /// Seconds from this instant to `later`, 0 when `later` is not after it.
    public func elapsedSeconds(at later: Deadline) -> Double {
        later.uptimeNanoseconds <= uptimeNanoseconds ? 0 : Double(later.uptimeNanoseconds - uptimeNanoseconds) / 1e9
    }

    /// Milliseconds left for `poll(2)`: -1 for never, 0 when passed, rounded up otherwise.
    public var pollTimeout: Int32 {
        if self == .never { return -1 }
        let now = Deadline.monotonicNanoseconds()
        if uptimeNanoseconds <= now { return 0 }
        let ms = (uptimeNanoseconds - now + 999_999) / 1_000_000
        return Int32(Swift.min(ms, UInt64(Int32.max)))
    }

    public var hasPassed: Bool { self != .never && Deadline.monotonicNanoseconds() >= uptimeNanoseconds }

    /// The earlier of two deadlines.
    public func min(_ other: Deadline) -> Deadline { self < other ? self : other }

    public static func < (a: Deadline, b: Deadline) -> Bool { a.uptimeNanoseconds < b.uptimeNanoseconds }

    public var description: String { self == .never ? "never" : "in \(remainingSeconds) s" }

    static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

/// A wait that ran out of time, naming what was being waited for.
public struct TimeoutError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public init(_ operation: String) { self.operation = operation }
    public var description: String { "timed out: \(operation)" }
}
