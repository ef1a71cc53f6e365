/// Asks for every known Envoy; answered with `EnvoyListReply`.
public struct EnvoyListRequest: WireMessage {
    public static let type = MessageType(rawValue: 0x0218)
    public init() {}
}

/// Every Envoy the Director knows, by name.
public struct EnvoyListReply: WireMessage {
    public static let type = MessageType(rawValue: 0x0219)
    public var envoys: [EnvoyInfo]
    public var heartbeatPeriod: Double
    public init(envoys: [EnvoyInfo], heartbeatPeriod: Double) {
        self.envoys = envoys
        self.heartbeatPeriod = heartbeatPeriod
    }
}
