/// One value of a plan: a scalar, a sequence or a mapping, with where it was written.
///
/// Equality and hashing look at values only, never at locations: the same settings read from two
/// files, or built in code, compare equal. An integer never equals a float (`1 != 1.0`), and a NaN
/// float equals another NaN so documents holding `.nan` compare equal to themselves.
public struct PlanNode: Sendable, Hashable {
    public var value: PlanValue
    /// Where the value starts in its file; nil for values built in code.
    public var location: TextLocation?

    public init(_ value: PlanValue, location: TextLocation? = nil) {
        self.value = value
        self.location = location
    }

    public static let null = PlanNode(.null)

    public static func == (lhs: PlanNode, rhs: PlanNode) -> Bool { lhs.value == rhs.value }

    public func hash(into hasher: inout Hasher) { hasher.combine(value) }

    public var isNull: Bool { if case .null = value { true } else { false } }
    public var asBool: Bool? { if case let .bool(b) = value { b } else { nil } }
    public var asInt: Int? { if case let .int(i) = value { i } else { nil } }
    /// The value as a Double: a float, or an integer converted.
    public var asDouble: Double? {
        switch value {
        case let .float(d): d
        case let .int(i): Double(i)
        default: nil
        }
    }
    public var asString: String? { if case let .string(s) = value { s } else { nil } }
    public var asSequence: [PlanNode]? { if case let .sequence(items) = value { items } else { nil } }
    public var asMapping: PlanMapping? { if case let .mapping(m) = value { m } else { nil } }
}

/// The value held by a `PlanNode`: the YAML 1.2 core schema types, with 64-bit integers and floats.
public enum PlanValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case sequence([PlanNode])
    case mapping(PlanMapping)

    public static func == (lhs: PlanValue, rhs: PlanValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case let (.bool(a), .bool(b)): a == b
        case let (.int(a), .int(b)): a == b
        case let (.float(a), .float(b)): a == b || (a.isNaN && b.isNaN)
        case let (.string(a), .string(b)): a == b
        case let (.sequence(a), .sequence(b)): a == b
        case let (.mapping(a), .mapping(b)): a == b
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case let .bool(b): hasher.combine(1); hasher.combine(b)
        case let .int(i): hasher.combine(2); hasher.combine(i)
        case let .float(d):
            hasher.combine(3)
            // All NaNs are equal here, so they must hash alike; Double's own hash already merges 0.0 and -0.0.
            if d.isNaN { hasher.combine(Double.nan.bitPattern) } else { hasher.combine(d) }
        case let .string(s): hasher.combine(4); hasher.combine(s)
        case let .sequence(items): hasher.combine(5); hasher.combine(items)
        case let .mapping(m): hasher.combine(6); hasher.combine(m)
        }
    }

    /// How the value is named in error messages: `integer 3`, `string "ten"`, `a mapping`.
    public var summary: String {
        switch self {
        case .null: return "null"
        case let .bool(b): return "boolean \(b)"
        case let .int(i): return "integer \(i)"
        case let .float(d): return "float \(YAMLScalarText.float(d))"
        case let .string(s):
            let shown = s.unicodeScalars.count > 40 ? String(String.UnicodeScalarView(s.unicodeScalars.prefix(40))) + "…" : s
            return "string \(JSONWriter.quoted(shown))"
        case let .sequence(items): return items.isEmpty ? "an empty sequence" : "a sequence"
        case let .mapping(m): return m.isEmpty ? "an empty mapping" : "a mapping"
        }
    }
}

extension PlanNode: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(integerLiteral value: Int) { self.init(.int(value)) }
    public init(floatLiteral value: Double) { self.init(.float(value)) }
    public init(booleanLiteral value: Bool) { self.init(.bool(value)) }
    public init(stringLiteral value: String) { self.init(.string(value)) }
    public init(arrayLiteral elements: PlanNode...) { self.init(.sequence(elements)) }
    /// Later duplicates replace earlier ones, as `PlanMapping.updateValue` does.
    public init(dictionaryLiteral elements: (String, PlanNode)...) {
        var mapping = PlanMapping()
        for (key, value) in elements { mapping.updateValue(value, forKey: key) }
        self.init(.mapping(mapping))
    }
}
