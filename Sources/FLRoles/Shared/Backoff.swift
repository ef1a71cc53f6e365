/// Exponential backoff with jitter: each wait is random in the upper half of min(maximum, initial·2ⁿ), so
/// many sites that lost the same server do not all knock again at the same instant.
public struct Backoff: Sendable {
    public let initial: Double
    public let maximum: Double
    private var attempt = 0

    public init(initial: Double, maximum: Double) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The longest the next wait can be: min(maximum, initial·2ⁿ) after n waits since the last reset.
    public var nextCeiling: Double { min(maximum, initial * Double(1 << min(attempt, 30))) }

    /// The next wait in seconds.
    public mutating func next() -> Double {
        let ceiling = nextCeiling
        attempt += 1
        return Double.random(in: (ceiling / 2)...ceiling)
    }

    /// Starts again from `initial`: the server was reached.
    public mutating func reset() { attempt = 0 }
}
