/// How many collaborators an Envoy runs at once and which run there now, as the Director knows
/// them, for `fx envoy list`. Sent beside `EnvoyInfo` (in `EnvoyListReply.slots`, one per Envoy)
/// rather than inside it, so an older Director's reply, without them, still reads.
public struct EnvoySlots: Sendable, Hashable, Codable {
    /// Its `capacity` as it registered; nil when it has not registered since the Director started.
    public var capacity: Int?
    /// The experiments whose collaborators run at the site, as its last heartbeat said; nil when
    /// no heartbeat has come since the Director started.
    public var running: [String]?

    public init(capacity: Int?, running: [String]?) {
        self.capacity = capacity
        self.running = running
    }
}

extension EnvoySlots: WireChecked {
    func check() throws(WireFieldError) {
        if let capacity {
            try WireFieldError.require((1...EnvoyRegistration.maximumCapacity).contains(capacity), "capacity",
                                       "is \(capacity), not 1 to \(EnvoyRegistration.maximumCapacity)")
        }
    }
}
