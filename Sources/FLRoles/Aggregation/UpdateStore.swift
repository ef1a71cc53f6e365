#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FLCore

/// Every update of a round, kept whole, for the rules that need them all at once (median, trimmed
/// mean, Krum). Rows of `count` floats live in memory while `rows × count × 4` bytes fit the memory
/// budget; past it they move to a spill file in `spillDirectory`, memory-mapped, so the page cache
/// (not the aggregator's heap) holds them and the kernel may write them out under memory pressure.
/// The spill file is unlinked as soon as it is made: nothing is left on disk after a crash.
final class UpdateStore {
    let count: Int
    let memoryBudget: Int
    let spillDirectory: String
    private(set) var rows = 0
    private(set) var weights: [Double] = []
    private var base: UnsafeMutablePointer<Float>?
    private var capacity = 0
    private var descriptor: Int32 = -1
    /// Whether the rows are in a spill file now.
    var isSpilled: Bool { descriptor >= 0 }

    init(count: Int, memoryBudget: Int, spillDirectory: String) {
        self.count = count
        self.memoryBudget = memoryBudget
        self.spillDirectory = spillDirectory
    }

    deinit { release() }

    /// Forgets every row (the memory or the file is kept for the next round).
    func reset() {
        rows = 0
        weights.removeAll(keepingCapacity: true)
    }

    /// Copies `values` in as the next row.
    func append(_ values: UnsafeBufferPointer<Float>, weight: Double) throws {
        precondition(values.count == count, "UpdateStore: an update of \(values.count) values for a model of \(count)")
        if rows == capacity { try grow(to: max(4, capacity * 2)) }
        (base! + rows * count).update(from: values.baseAddress!, count: count)
        weights.append(weight)
        rows += 1
    }

    /// Row `i`.
    func row(_ i: Int) -> UnsafeBufferPointer<Float> {
        precondition(i < rows)
        return UnsafeBufferPointer(start: base! + i * count, count: count)
    }

    private func grow(to newCapacity: Int) throws {
        let bytes = newCapacity * count * MemoryLayout<Float>.stride
        if !isSpilled && bytes <= memoryBudget {
            guard let grown = realloc(base, bytes) else { throw AggregationError("cannot hold \(newCapacity) updates of \(count) values in memory") }
            base = grown.assumingMemoryBound(to: Float.self)
            capacity = newCapacity
            return
        }
        if !isSpilled {
            let path = "\(spillDirectory)/updates-\(getpid())-\(UUID().uuidString.prefix(8)).spill"
            try FileManager.default.createDirectory(atPath: spillDirectory, withIntermediateDirectories: true)
            let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw AggregationError("cannot create the spill file \(path): \(String(cString: strerror(errno)))") }
            unlink(path)
            descriptor = fd
            let mapped = try map(bytes: bytes, path: path)
            if let base, rows > 0 { mapped.update(from: base, count: rows * count) }
            free(base)
            base = mapped
        } else {
            let old = capacity * count * MemoryLayout<Float>.stride
            munmap(base, old)
            base = try map(bytes: bytes, path: spillDirectory)
        }
        capacity = newCapacity
    }

    private func map(bytes: Int, path: String) throws -> UnsafeMutablePointer<Float> {
        guard ftruncate(descriptor, off_t(bytes)) == 0 else {
            throw AggregationError("cannot make the spill file in \(path) \(bytes) bytes long: \(String(cString: strerror(errno)))")
        }
        let pointer = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0)
        guard let pointer, pointer != MAP_FAILED else {
            throw AggregationError("cannot map the spill file in \(path): \(String(cString: strerror(errno)))")
        }
        return pointer.assumingMemoryBound(to: Float.self)
    }

    private func release() {
        if isSpilled {
            munmap(base, capacity * count * MemoryLayout<Float>.stride)
            close(descriptor)
        } else {
            free(base)
        }
        base = nil
    }
}
