/// What one site did with one experiment.
public struct SiteInfo: Sendable, Hashable, Codable {
    /// On the wire it is the index of its case; in the Director's saved state, its name.
    public enum State: String, Sendable, Hashable, Codable, CaseIterable, WireCaseIndexed {
        /// Offered; no answer yet.
        case offered
        /// The site's policy allows the archive.
        case accepted
        /// The site's policy refused the archive (or it could not be unpacked there).
        case refused
        /// The site's collaborator is running.
        case running
        /// The collaborator exited with status 0.
        case finished
        /// The collaborator died or exited with an error.
        case failed
        /// Did not answer the offer in time.
        case absent
    }

    public var envoy: String
    public var state: State
    public var reason: String
    /// The collaborator's exit status, as the site reported it.
    public var exitStatus: String

    public init(envoy: String, state: State, reason: String = "", exitStatus: String = "") {
        self.envoy = envoy
        self.state = state
        self.reason = reason
        self.exitStatus = exitStatus
    }
}
