/// The names under which the aggregator reports differential privacy's spending in each training
/// round's metrics (origin `aggregator`, task `privacy`), for whoever reads them back (`fx experiment
/// status`, the metrics log).
public enum PrivacyMetrics {
    /// ε spent so far, at δ = `delta`'s value.
    public static let epsilon = "privacy/epsilon"
    /// The δ at which ε is reported (the plan's).
    public static let delta = "privacy/delta"
}
