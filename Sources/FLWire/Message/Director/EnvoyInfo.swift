/// The state of one Envoy as the Director sees it, for `fx envoy list`.
public struct EnvoyInfo: Sendable, Hashable, Codable {
    public var name: String
    public var shard: ShardDescriptor
    /// Connected and heard from within the last three heartbeat periods.
    public var online: Bool
    /// Seconds since the last heartbeat (or registration); nil when not heard from since the Director started.
    public var lastHeartbeatAge: Double?
    /// The experiment the site last handled, when it is still running there or in progress.
    public var currentExperiment: String
    public var collaboratorRunning: Bool
    /// Machine CPU use at the site, percent of all cores.
    public var cpuPercent: Double
    /// Memory used by the Envoy and its collaborator.
    public var residentBytes: Int
    /// Memory the site's machine still has available.
    public var availableBytes: Int
    /// Seconds since 1970 when the Envoy first registered.
    public var registeredAt: Double

    public init(name: String, shard: ShardDescriptor, online: Bool, lastHeartbeatAge: Double?, currentExperiment: String,
                collaboratorRunning: Bool, cpuPercent: Double, residentBytes: Int, availableBytes: Int, registeredAt: Double) {
        self.name = name
        self.shard = shard
        self.online = online
        self.lastHeartbeatAge = lastHeartbeatAge
        self.currentExperiment = currentExperiment
        self.collaboratorRunning = collaboratorRunning
        self.cpuPercent = cpuPercent
        self.residentBytes = residentBytes
        self.availableBytes = availableBytes
        self.registeredAt = registeredAt
    }
}

extension EnvoyInfo: WireChecked {
    func check() throws(WireFieldError) {
        try WireFieldError.count(residentBytes, "residentBytes")
        try WireFieldError.count(availableBytes, "availableBytes")
    }
}
