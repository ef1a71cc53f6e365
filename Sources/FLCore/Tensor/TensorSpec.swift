/// The element type of a tensor. SwiftFL computes in float32 only; the other types exist so that a
/// file holding them is named precisely in errors and can be converted.
public enum DType: String, Sendable, Hashable, Codable, CaseIterable {
    case float32 = "F32"
    case float64 = "F64"
    case float16 = "F16"
    case bfloat16 = "BF16"
    case int64 = "I64"
    case int32 = "I32"
    case int16 = "I16"
    case int8 = "I8"
    case uint64 = "U64"
    case uint32 = "U32"
    case uint16 = "U16"
    case uint8 = "U8"
    case bool = "BOOL"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .float64, .int64, .uint64: 8
        case .float32, .int32, .uint32: 4
        case .float16, .bfloat16, .int16, .uint16: 2
        case .int8, .uint8, .bool: 1
        }
    }
}

/// The name and shape of one tensor in a model.
public struct TensorSpec: Sendable, Hashable, Codable, CustomStringConvertible {
    /// A dotted name such as `dense_0.weight`.
    public var name: String
    /// Dimensions, outermost first (row-major). An empty shape is a scalar.
    public var shape: [Int]
    public var dtype: DType

    public init(name: String, shape: [Int], dtype: DType = .float32) {
        self.name = name
        self.shape = shape
        self.dtype = dtype
    }

    /// Number of elements; 1 for a scalar.
    public var count: Int { shape.reduce(1, *) }

    public var description: String { "\(name) \(dtype.rawValue)\(TensorSpec.format(shape))" }

    /// Formats a shape as `[3, 4]`.
    public static func format(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
}
