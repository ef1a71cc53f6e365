// MARK: - Data scientists and operators ↔ Director

/// Submits an experiment: the workspace archive follows as a stream. Answered with the queued
/// experiment's `ExperimentStatusReply`.
public struct SubmitExperiment: WireMessage {
    public static let type = MessageType(rawValue: 0x0210)
    public var name: String
    /// SHA-256 of the streamed archive, checked by the Director after receiving it.
    public var sha256: String
    /// The Envoys the experiment is for (empty: every Envoy online when it starts). Added at the end
    /// of the message: an older client's submission reads as empty.
    public var envoys: [String]

    public init(name: String, sha256: String, envoys: [String] = []) {
        self.name = name
        self.sha256 = sha256
        self.envoys = envoys
    }

    private enum CodingKeys: String, CodingKey { case name, sha256, envoys }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try c.decode(String.self, forKey: .name), sha256: try c.decode(String.self, forKey: .sha256),
                  envoys: c.contains(.envoys) ? try c.decode([String].self, forKey: .envoys) : [])
    }
}

/// Asks for every experiment, in submission order; answered with `ExperimentListReply`.
public struct ExperimentListRequest: WireMessage {
    public static let type = MessageType(rawValue: 0x0211)
    public init() {}
}

/// Every experiment (without their per-round records): the asker's own in full, others' by name
/// and state only.
public struct ExperimentListReply: WireMessage {
    public static let type = MessageType(rawValue: 0x0212)
    public var experiments: [ExperimentInfo]
    /// What the Director wants its users to know about itself (e.g. that it cannot save its state), or "".
    public var stateWarning: String
    public init(experiments: [ExperimentInfo], stateWarning: String = "") {
        self.experiments = experiments
        self.stateWarning = stateWarning
    }
}

/// Asks for one experiment's status. With `maximumWaitSeconds > 0` the Director holds the request
/// until the experiment's version passes `afterVersion` (or the wait ends): this is how `watch` follows one.
public struct ExperimentStatusRequest: WireMessage {
    public static let type = MessageType(rawValue: 0x0213)
    public var name: String
    public var afterVersion: UInt64
    public var maximumWaitSeconds: Double
    public init(name: String, afterVersion: UInt64 = 0, maximumWaitSeconds: Double = 0) {
        self.name = name
        self.afterVersion = afterVersion
        self.maximumWaitSeconds = maximumWaitSeconds
    }
}

/// One experiment, in full.
public struct ExperimentStatusReply: WireMessage {
    public static let type = MessageType(rawValue: 0x0214)
    public var experiment: ExperimentInfo
    /// What the Director wants its users to know about itself (e.g. that it cannot save its state), or "".
    public var stateWarning: String
    public init(experiment: ExperimentInfo, stateWarning: String = "") {
        self.experiment = experiment
        self.stateWarning = stateWarning
    }
}

/// Cancels a queued or running experiment; answered with its `ExperimentStatusReply`.
public struct CancelExperiment: WireMessage {
    public static let type = MessageType(rawValue: 0x0217)
    public var name: String
    public init(name: String) { self.name = name }
}

extension ExperimentStatusRequest: WireChecked {
    func check() throws(WireFieldError) { try WireFieldError.wait(maximumWaitSeconds, "maximumWaitSeconds") }
}
