import Testing
@testable import FLWire

@Suite struct DeadlineTests {
    /// An instant `seconds` before now on the monotonic clock.
    private func past(_ seconds: UInt64) -> Deadline {
        Deadline(uptimeNanoseconds: Deadline.now.uptimeNanoseconds - seconds * 1_000_000_000)
    }

    @Test func elapsedSecondsCountsFromAPastInstantInSeconds() {
        let elapsed = past(2).elapsedSeconds
        #expect(elapsed >= 2)
        // Nanoseconds or milliseconds taken for seconds would be off by a factor of 1000 or more.
        #expect(elapsed < 60)
    }

    @Test func elapsedSecondsIsZeroForInstantsAhead() {
        #expect(Deadline.after(seconds: 60).elapsedSeconds == 0)
        #expect(Deadline.never.elapsedSeconds == 0)
    }

    @Test func remainingSecondsAndPollTimeoutOfPassedAndFutureDeadlines() {
        #expect(past(1).remainingSeconds == 0)
        #expect(past(1).pollTimeout == 0)
        #expect(past(1).hasPassed)
        #expect(Deadline.never.pollTimeout == -1)
        #expect(!Deadline.never.hasPassed)
        let ahead = Deadline.after(seconds: 60)
        #expect(ahead.remainingSeconds > 0 && ahead.remainingSeconds <= 60)
        #expect(ahead.pollTimeout > 0 && ahead.pollTimeout <= 60_000)
    }
}
