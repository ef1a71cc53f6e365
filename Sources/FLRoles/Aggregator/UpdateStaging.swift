import Dispatch
import Synchronization
import FLWire

/// Model-sized buffers that incoming updates are received into before they are checked and folded
/// into the running sum. Their number bounds the aggregator's memory: with one slot it holds the
/// global model, the running sum and one update, whatever the number of collaborators; further
/// uploads wait (TCP backpressure) for the slot. Folding an update in exchanges its buffer with the
/// running sum's (`AggregationFunction.add`), so the buffer returned to the pool may be another one of
/// the same size: the number of model-sized buffers never changes.
final class UpdateStaging: Sendable {
    private let slots: DispatchSemaphore
    private let free = Mutex<[[Float]]>([])
    private let count: Int

    init(slots: Int, count: Int) {
        self.slots = DispatchSemaphore(value: max(1, slots))
        self.count = count
    }

    /// Runs `body` with a buffer of `count` floats (contents undefined), waiting up to `timeout`
    /// seconds for one to be free. Whatever buffer `body` leaves in the argument (of `count` floats)
    /// goes back to the pool.
    func withBuffer<R>(timeout: Double, _ body: (inout [Float]) throws -> R) throws -> R {
        guard slots.wait(timeout: .now() + timeout) == .success else {
            throw TimeoutError("waiting \(timeout) s for a buffer to receive an update into")
        }
        defer { slots.signal() }
        var buffer = free.withLock { $0.popLast() } ?? [Float](repeating: 0, count: count)
        defer {
            precondition(buffer.count == count, "UpdateStaging: a buffer of \(buffer.count) floats came back, expected \(count)")
            free.withLock { $0.append(buffer) }
        }
        return try body(&buffer)
    }
}
