internal import COpenSSL

/// A failure reported by OpenSSL, with the operation that failed and OpenSSL's own reasons
/// (its error queue, drained when the error is made).
public struct OpenSSLError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var reasons: [String]

    public init(_ operation: String, reasons: [String]? = nil) {
        self.operation = operation
        self.reasons = reasons ?? OpenSSLError.drainQueue()
    }

    public var description: String {
        reasons.isEmpty ? "\(operation) failed" : "\(operation) failed: \(reasons.joined(separator: "; "))"
    }

    /// Takes every entry off this thread's OpenSSL error queue, as readable strings.
    package static func drainQueue() -> [String] {
        var out: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            out.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return out
    }
}
