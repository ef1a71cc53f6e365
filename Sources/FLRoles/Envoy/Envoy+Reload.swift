import FLCore
import FLWire

extension Envoy {
    /// Puts a re-read configuration into force without dropping the connection to the Director or
    /// a running collaborator (what `SIGHUP` does): the policy (its mode and its allow-list file),
    /// `limits.max_model_parameters` and `limits.min_statistics_rows` change at once and decide
    /// every experiment offered or launched from now on; `analytics.min_count` every query answered. Every other difference keeps its old value
    /// until the next start and is reported. The allow-list's contents and the revocation list need
    /// no reload: both are read again whenever they are used or change.
    @discardableResult
    public func reload(_ new: EnvoySettings) -> ConfigurationReload {
        var result = ConfigurationReload()
        live.withLock { current in
            var merged = current
            result.compare("policy", \.policy, new: new, into: &merged, reloadable: true)
            result.compare("limits.max_model_parameters", \.maximumModelParameters, new: new, into: &merged, reloadable: true)
            result.compare("limits.min_statistics_rows", \.minimumStatisticsRows, new: new, into: &merged, reloadable: true)
            result.compare("analytics.min_count", \.analyticsMinimumCount, new: new, into: &merged, reloadable: true)
            result.compare("limits.max_archive_bytes", \.maximumArchiveSize, new: new, into: &merged, reloadable: false)
            result.compare("director", \.director, new: new, into: &merged, reloadable: false)
            result.compare("director.name", \.directorName, new: new, into: &merged, reloadable: false)
            result.compare("cert_dir", \.certificateDirectory, new: new, into: &merged, reloadable: false)
            result.compare("crl_file", \.revocationListPath, new: new, into: &merged, reloadable: false)
            result.compare("work_dir", \.workDirectory, new: new, into: &merged, reloadable: false)
            result.compare("data_dir", \.dataDirectory, new: new, into: &merged, reloadable: false)
            result.compare("shard.path", \.shardPath, new: new, into: &merged, reloadable: false)
            result.compare("shard", \.declaredShard, new: new, into: &merged, reloadable: false)
            result.compare("audit_log", \.auditLogPath, new: new, into: &merged, reloadable: false)
            current = merged
        }
        logger.info("reloaded the configuration: \(result)")
        return result
    }
}

extension EnvoySettings {
    /// The shard as the configuration declares it, without what inspecting the file added (its row count).
    var declaredShard: ShardDescriptor {
        get {
            var declared = shard
            declared.sampleCount = 0
            return declared
        }
        set { shard = newValue }
    }
}
