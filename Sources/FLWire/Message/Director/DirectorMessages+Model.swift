/// Which of an experiment's models.
public enum ModelChoice: UInt8, Sendable, Hashable, Codable, CustomStringConvertible {
    case best = 1
    case last = 2
    public var description: String { self == .best ? "best" : "last" }
}

/// Asks for an experiment's best or last model; answered by `ExperimentModelReply` with the
/// safetensors file streamed.
public struct ExperimentModelRequest: WireMessage {
    public static let type = MessageType(rawValue: 0x0215)
    public var name: String
    public var which: ModelChoice
    public init(name: String, which: ModelChoice) {
        self.name = name
        self.which = which
    }
}

/// Announces a model file (safetensors) streamed in the chunks that follow.
public struct ExperimentModelReply: WireMessage {
    public static let type = MessageType(rawValue: 0x0216)
    public var name: String
    public var which: ModelChoice
    public init(name: String, which: ModelChoice) {
        self.name = name
        self.which = which
    }
}
