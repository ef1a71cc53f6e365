import FLCore
import FLWire

extension Director {
    /// Puts a re-read configuration into force without dropping connections or experiments (what
    /// `SIGHUP` does): the Envoys' and users' allow-lists, `envoys.minimum`, `envoys.startup_grace`,
    /// `envoys.decision_timeout` and `experiments.max_concurrent` change at once, and open connections of names the new lists no
    /// longer admit are closed. Every other difference keeps its old value until the next start and
    /// is reported. The revocation list needs no reload: it is re-read whenever its file changes.
    @discardableResult
    public func reload(_ new: DirectorSettings) -> ConfigurationReload {
        var result = ConfigurationReload()
        let merged: DirectorSettings = live.withLock { current in
            var merged = current
            result.compare("listen.host", \.host, new: new, into: &merged, reloadable: false)
            result.compare("listen.port", \.port, new: new, into: &merged, reloadable: false)
            result.compare("federation.sample_shape", \.sampleShape, new: new, into: &merged, reloadable: false)
            result.compare("federation.target_shape", \.targetShape, new: new, into: &merged, reloadable: false)
            result.compare("envoys.heartbeat_period", \.heartbeatPeriod, new: new, into: &merged, reloadable: false)
            result.compare("envoys.minimum", \.minimumEnvoys, new: new, into: &merged, reloadable: true)
            result.compare("envoys.startup_grace", \.startupGrace, new: new, into: &merged, reloadable: true)
            result.compare("envoys.decision_timeout", \.decisionTimeout, new: new, into: &merged, reloadable: true)
            result.compare("envoys.allowed", \.allowedEnvoys, new: new, into: &merged, reloadable: true)
            result.compare("users.allowed", \.allowedUsers, new: new, into: &merged, reloadable: true)
            result.compare("state_dir", \.stateDirectory, new: new, into: &merged, reloadable: false)
            result.compare("certificates.dir", \.certificateDirectory, new: new, into: &merged, reloadable: false)
            result.compare("certificates.name", \.name, new: new, into: &merged, reloadable: false)
            result.compare("certificates.aggregator", \.aggregatorName, new: new, into: &merged, reloadable: false)
            result.compare("certificates.crl_file", \.revocationListPath, new: new, into: &merged, reloadable: false)
            result.compare("limits.max_archive_bytes", \.maximumArchiveSize, new: new, into: &merged, reloadable: false)
            result.compare("aggregators.host", \.aggregatorHost, new: new, into: &merged, reloadable: false)
            result.compare("aggregators.address", \.aggregatorAddress, new: new, into: &merged, reloadable: false)
            result.compare("aggregators.port", \.aggregatorPort, new: new, into: &merged, reloadable: false)
            result.compare("aggregators.ports", \.aggregatorPorts, new: new, into: &merged, reloadable: false)
            result.compare("experiments.max_concurrent", \.maximumConcurrent, new: new, into: &merged, reloadable: true)
            current = merged
            return merged
        }
        if result.applied.contains("envoys.allowed") || result.applied.contains("users.allowed") {
            serverBox.withLock { $0 }?.closeConnections { peer in Director.refusal(of: peer, under: merged) }
        }
        // A lower minimum or a new Envoy may let a queued experiment start now.
        wake.signal()
        logger.info("reloaded the configuration: \(result)")
        return result
    }
}
