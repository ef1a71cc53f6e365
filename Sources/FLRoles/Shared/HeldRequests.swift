/// Requests held open until they can be answered or their time is up: the long-poll bookkeeping the
/// Aggregator (requests for tasks) and the Director (requests for work, watches) share.
///
/// A value owned by its role's state lock. `hold` hands back a token; the owner schedules the
/// expiry and, when it fires, `take(_:)`s the token: a request answered in the meantime is gone, so
/// each request is answered exactly once. Requests come out in the order they were held.
struct HeldRequests<Held> {
    private var held: [UInt64: Held] = [:]
    private var nextToken: UInt64 = 1

    /// Holds `request`; returns the token its expiry names.
    mutating func hold(_ request: Held) -> UInt64 {
        defer { nextToken += 1 }
        held[nextToken] = request
        return nextToken
    }

    /// The request held under `token`, no longer held; nil when it was answered already.
    mutating func take(_ token: UInt64) -> Held? { held.removeValue(forKey: token) }

    /// Takes, in arrival order, every held request `answer` has an answer for, with that answer.
    mutating func take<Answer>(answering answer: (Held) -> Answer?) -> [(Held, Answer)] {
        var answered: [(Held, Answer)] = []
        for token in held.keys.sorted() {
            guard let request = held[token], let a = answer(request) else { continue }
            held.removeValue(forKey: token)
            answered.append((request, a))
        }
        return answered
    }

    /// Takes, in arrival order, every held request `isAnswered` picks.
    mutating func take(where isAnswered: (Held) -> Bool) -> [Held] {
        take { isAnswered($0) ? () : nil }.map(\.0)
    }

    /// Takes every held request, in arrival order.
    mutating func takeAll() -> [Held] {
        defer { held = [:] }
        return held.keys.sorted().map { held[$0]! }
    }

    /// Forgets the requests `isGone` picks (their peer disconnected): nobody is left to answer.
    mutating func removeAll(where isGone: (Held) -> Bool) {
        held = held.filter { !isGone($0.value) }
    }

    var count: Int { held.count }
}

extension HeldRequests: Sendable where Held: Sendable {}
