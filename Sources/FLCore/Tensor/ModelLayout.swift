/// Where each named tensor of a model lives inside one flat float32 buffer.
///
/// Every model in SwiftFL is stored as a single contiguous buffer; the layout names its regions. This
/// lets aggregation, optimizers and the wire treat a whole model as one vector (one loop, one write)
/// while layers still address their own weights by name.
public struct ModelLayout: Sendable, Hashable, CustomStringConvertible {
    /// Tensors in buffer order.
    public let tensors: [TensorSpec]
    /// Element offset of each tensor, parallel to `tensors`.
    public let offsets: [Int]
    /// Total number of elements.
    public let count: Int
    private let indexByName: [String: Int]

    /// Builds a layout; tensors are laid out in the order given.
    /// - Throws: `ModelLayoutError` for duplicate or empty names, negative dimensions, non-float32 types,
    ///   or a size that does not fit in memory.
    public init(_ tensors: [TensorSpec]) throws {
        var offsets: [Int] = []
        offsets.reserveCapacity(tensors.count)
        var index: [String: Int] = [:]
        var total = 0
        for (i, spec) in tensors.enumerated() {
            if spec.name.isEmpty { throw ModelLayoutError(reason: "tensor #\(i) has an empty name") }
            if index[spec.name] != nil { throw ModelLayoutError(reason: "tensor name '\(spec.name)' appears twice") }
            if spec.dtype != .float32 {
                throw ModelLayoutError(reason: "tensor '\(spec.name)' has dtype \(spec.dtype.rawValue); only F32 is supported")
            }
            var n = 1
            for d in spec.shape {
                if d < 0 { throw ModelLayoutError(reason: "tensor '\(spec.name)' has a negative dimension in \(TensorSpec.format(spec.shape))") }
                let (m, overflow) = n.multipliedReportingOverflow(by: d)
                if overflow || m > ModelLayout.maximumCount {
                    throw ModelLayoutError(reason: "tensor '\(spec.name)' shape \(TensorSpec.format(spec.shape)) is too large")
                }
                n = m
            }
            index[spec.name] = i
            offsets.append(total)
            total += n
            if total > ModelLayout.maximumCount { throw ModelLayoutError(reason: "model has more than \(ModelLayout.maximumCount) parameters") }
        }
        self.tensors = tensors
        self.offsets = offsets
        self.count = total
        self.indexByName = index
    }

    /// The largest number of parameters a model may have (16 Gi elements, 64 GiB).
    public static let maximumCount = 1 << 34

    /// Size of the float32 buffer in bytes.
    public var byteCount: Int { count * 4 }

    /// The position of the tensor called `name`, if any.
    public func index(of name: String) -> Int? { indexByName[name] }

    /// The element range of the tensor called `name`, if any.
    public func range(of name: String) -> Range<Int>? {
        guard let i = indexByName[name] else { return nil }
        return offsets[i]..<(offsets[i] + tensors[i].count)
    }

    /// The element range of the tensor at position `i`.
    public func range(at i: Int) -> Range<Int> { offsets[i]..<(offsets[i] + tensors[i].count) }

    public static func == (a: ModelLayout, b: ModelLayout) -> Bool { a.tensors == b.tensors }
    public func hash(into hasher: inout Hasher) { hasher.combine(tensors) }

    public var description: String { tensors.map(\.description).joined(separator: ", ") }

    /// Explains how `other` differs from this layout, or returns nil when they are equal.
    public func difference(from other: ModelLayout) -> String? {
        if self == other { return nil }
        let mine = Set(tensors.map(\.name)), theirs = Set(other.tensors.map(\.name))
        if let missing = tensors.first(where: { !theirs.contains($0.name) }) { return "tensor '\(missing.name)' is missing" }
        if let extra = other.tensors.first(where: { !mine.contains($0.name) }) { return "unexpected tensor '\(extra.name)'" }
        for spec in tensors {
            let o = other.tensors[other.index(of: spec.name)!]
            if o.shape != spec.shape {
                return "tensor '\(spec.name)' has shape \(TensorSpec.format(o.shape)), expected \(TensorSpec.format(spec.shape))"
            }
            if o.dtype != spec.dtype { return "tensor '\(spec.name)' has dtype \(o.dtype.rawValue), expected \(spec.dtype.rawValue)" }
        }
        return "tensors are in a different order"
    }
}

/// A layout that cannot be built.
public struct ModelLayoutError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { "invalid model layout: \(reason)" }
}
