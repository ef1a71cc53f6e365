import FLWire

/// What an Envoy tells whoever runs it about its link to the Director.
public enum EnvoyEvent: Sendable, Equatable {
    /// Registered with the Director (on every connection, the first and each after a loss).
    case registered(director: Endpoint)
    /// Not connected, and trying again after a delay; `reason` says what failed.
    case waiting(reason: String)
}
