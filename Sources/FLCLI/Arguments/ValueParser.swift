import FLCore
import FLWire

/// How an argument's text becomes its typed value, and how a text that does not is refused.
public struct ValueParser<Value: Sendable>: Sendable {
    let parse: @Sendable (String) -> Result<Value, InvalidArgumentValue>

    /// A parser that says itself why it refuses a text.
    public init(_ parse: @escaping @Sendable (String) -> Result<Value, InvalidArgumentValue>) { self.parse = parse }

    /// The values `read` returns; a text it returns nil for is refused as not being `form`.
    public init(expecting form: String, _ read: @escaping @Sendable (String) -> Value?) {
        parse = { text in read(text).map { .success($0) } ?? .failure(.expected(form)) }
    }
}

extension ValueParser where Value == String {
    /// Any text, as it is.
    public static var text: ValueParser { ValueParser { .success($0) } }
}

extension ValueParser where Value == Int {
    /// A decimal integer within `range`.
    public static func integer(in range: ClosedRange<Int> = Int.min...Int.max) -> ValueParser {
        ValueParser(expecting: "an integer in \(range.lowerBound)...\(range.upperBound)") { Int($0).flatMap { range.contains($0) ? $0 : nil } }
    }
}

extension ValueParser where Value == Endpoint {
    /// `HOST:PORT`, IPv6 hosts in brackets (`[::1]:9000`).
    public static var endpoint: ValueParser { ValueParser(expecting: "HOST:PORT", Endpoint.init) }
}

extension ValueParser where Value == LogLevel {
    /// A log level by name.
    public static var logLevel: ValueParser { ValueParser(expecting: "debug, info, warning or error", LogLevel.init(name:)) }
}
