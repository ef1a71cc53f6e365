import Testing
import FLCore
import FLTesting
@testable import FLWire

@Suite struct LogThrottleTests {
    static func note(_ throttle: inout LogThrottle, _ kind: String, from source: String) {
        throttle.note(kind, source: source, message: "refused connection from \(source): \(kind)",
                      summary: { n, s, last in "refused \(n) more connections in the last \(s) s (the last from \(last)): \(kind)" })
    }

    @Test func theFirstOfEachKindIsLoggedAndTheRestCounted() {
        let log = LogRecorder()
        var throttle = LogThrottle(logger: log.logger(), interval: 60)
        for i in 0..<1000 { Self.note(&throttle, "timed out", from: "10.0.0.\(i % 7):\(i)") }
        Self.note(&throttle, "wrong version number", from: "10.0.0.9:1")
        #expect(log.lines.map(\.message) == ["refused connection from 10.0.0.0:0: timed out",
                                             "refused connection from 10.0.0.9:1: wrong version number"])
        throttle.flush()
        #expect(log.lines.count == 2, "an interval still running writes no summary")
        throttle.flush(all: true)
        #expect(log.lines.count == 3)
        #expect(log.lines.last?.message.hasPrefix("refused 999 more connections in the last") == true, "\(log.lines.last?.message ?? "")")
        #expect(log.lines.last?.message.hasSuffix("(the last from 10.0.0.5:999): timed out") == true, "\(log.lines.last?.message ?? "")")
        #expect(log.lines.last?.level == .warning)
    }

    @Test func aNewIntervalStartsWithAnOrdinaryLine() {
        let log = LogRecorder()
        var throttle = LogThrottle(logger: log.logger(), interval: 0)
        Self.note(&throttle, "timed out", from: "a")
        Self.note(&throttle, "timed out", from: "b")
        #expect(log.lines.map(\.message) == ["refused connection from a: timed out", "refused connection from b: timed out"])
    }

    @Test func kindsAreBounded() {
        let log = LogRecorder()
        var throttle = LogThrottle(logger: log.logger(), interval: 60, maximumKinds: 4)
        for i in 0..<100 { Self.note(&throttle, "reason \(i)", from: "x") }
        // Four kinds of their own, then everything else shares one.
        #expect(log.lines.count == 5, "\(log.lines.map(\.message))")
        throttle.flush(all: true)
        #expect(log.lines.last?.message.contains("refused 95 more connections") == true, "\(log.lines.last?.message ?? "")")
    }
}
