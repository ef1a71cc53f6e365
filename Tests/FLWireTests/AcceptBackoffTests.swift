import Testing
@testable import FLWire

@Suite struct AcceptBackoffTests {
    @Test func doublesFromTenMillisecondsToOneSecondAndResetsOnSuccess() {
        var backoff = AcceptBackoff()
        #expect(backoff.allowsAccepting && backoff.resumes == nil)
        var delays: [Double] = []
        for _ in 0..<10 {
            backoff.failed()
            delays.append(backoff.delay)
        }
        #expect(delays == [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1, 1, 1])
        #expect(!backoff.allowsAccepting, "paused for a second right after a failure")
        #expect((backoff.resumes?.remainingSeconds ?? 0) > 0.5)
        backoff.succeeded()
        #expect(backoff.allowsAccepting && backoff.delay == 0 && backoff.resumes == nil)
        backoff.failed()
        #expect(backoff.delay == 0.01)
    }
}
