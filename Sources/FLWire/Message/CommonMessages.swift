// Messages any peer may send or answer with, whatever its role.

/// A refusal or failure, answering any request.
public struct ErrorReply: WireMessage, Error, CustomStringConvertible {
    public static let type = MessageType(rawValue: 0x0010)

    /// Why the request failed, in a form programs can act on.
    public enum Code: UInt16, Sendable, Codable {
        case badRequest = 1, notAllowed = 2, notFound = 3, rejected = 4, conflict = 5, internalError = 6, shuttingDown = 7, unknownPeer = 8

        /// A code this side does not know (a newer peer's) reads as an internal error rather than
        /// making the whole reply unreadable.
        public init(from decoder: any Decoder) throws {
            self = Code(rawValue: try decoder.singleValueContainer().decode(UInt16.self)) ?? .internalError
        }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(message) (\(code))" }
}

/// A request that succeeded with nothing to return.
public struct OkReply: WireMessage {
    public static let type = MessageType(rawValue: 0x0011)
    public init() {}
}

/// Keeps an idle connection alive; answered with `OkReply`.
public struct Ping: WireMessage {
    public static let type = MessageType(rawValue: 0x0012)
    public init() {}
}
