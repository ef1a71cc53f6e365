/// The values of a model: a layout and one flat float32 buffer holding every tensor.
///
/// A value type with copy-on-write storage (`[Float]`); hot loops use `withUnsafe…` on `values`.
public struct ModelState: Sendable, Equatable {
    public let layout: ModelLayout
    /// All parameters, tensor after tensor in layout order.
    public var values: [Float]

    /// A model with every parameter zero.
    public init(zeros layout: ModelLayout) {
        self.layout = layout
        self.values = [Float](repeating: 0, count: layout.count)
    }

    /// A model from a layout and its values.
    /// - Precondition: `values.count == layout.count`.
    public init(layout: ModelLayout, values: [Float]) {
        precondition(values.count == layout.count, "ModelState: \(values.count) values for a layout of \(layout.count)")
        self.layout = layout
        self.values = values
    }

    /// Copies the values of the tensor called `name`.
    public func tensor(_ name: String) -> [Float]? {
        guard let r = layout.range(of: name) else { return nil }
        return Array(values[r])
    }

    /// Replaces the values of the tensor called `name`.
    /// - Precondition: the tensor exists and `newValues` has its element count.
    public mutating func setTensor(_ name: String, _ newValues: [Float]) {
        guard let r = layout.range(of: name) else { preconditionFailure("no tensor named \(name)") }
        precondition(r.count == newValues.count, "tensor \(name) has \(r.count) elements, got \(newValues.count)")
        values.replaceSubrange(r, with: newValues)
    }

    /// True when every value is finite (no NaN or infinity).
    public var isFinite: Bool { values.withUnsafeBufferPointer { FloatKernels.allFinite($0) } }
}
