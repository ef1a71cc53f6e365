import Testing
@testable import FLRoles

struct HeldRequestsTests {
    @Test func eachRequestIsTakenOnceInArrivalOrder() {
        var held = HeldRequests<String>()
        let a = held.hold("a"), b = held.hold("b"), c = held.hold("c")
        #expect(Set([a, b, c]).count == 3 && held.count == 3)
        // Answered by the event it waited for: its expiry finds nothing.
        #expect(held.take(answering: { $0 == "b" ? 2 : nil }).map { "\($0.0)\($0.1)" } == ["b2"])
        #expect(held.take(b) == nil)
        // A disconnected peer's requests are forgotten.
        held.removeAll { $0 == "c" }
        #expect(held.take(c) == nil)
        #expect(held.take(a) == "a" && held.count == 0)
        let d = held.hold("d"), e = held.hold("e")
        #expect(d > c && e > d)
        #expect(held.take(where: { $0 == "e" }) == ["e"])
        #expect(held.takeAll() == ["d"] && held.takeAll().isEmpty)
    }
}
