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
    /// Each Envoy's capacity and running collaborators, in the order of `envoys`. Added at the end
    /// of the message: an older Director's reply, without it, reads as empty (not known).
    public var slots: [EnvoySlots]

    public init(envoys: [EnvoyInfo], heartbeatPeriod: Double, slots: [EnvoySlots] = []) {
        self.envoys = envoys
        self.heartbeatPeriod = heartbeatPeriod
        self.slots = slots
    }

    private enum CodingKeys: String, CodingKey { case envoys, heartbeatPeriod, slots }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(envoys: try c.decode([EnvoyInfo].self, forKey: .envoys), heartbeatPeriod: try c.decode(Double.self, forKey: .heartbeatPeriod),
                  slots: c.contains(.slots) ? try c.decode([EnvoySlots].self, forKey: .slots) : [])
    }

    /// Envoy `index`'s slots; nil when the Director did not say.
    public func slots(of index: Int) -> EnvoySlots? {
        slots.indices.contains(index) ? slots[index] : nil
    }
}

extension EnvoyListReply: WireChecked {
    func check() throws(WireFieldError) {
        try WireFieldError.require(slots.isEmpty || slots.count == envoys.count, "slots",
                                   "has \(slots.count) entries for \(envoys.count) Envoys")
    }
}
