import FLCore
import FLTraining
import FLWire

// The federation's standardizer: before round 1, every site's feature statistics.
extension RoundMachine {
    /// Waits for every site's feature statistics, at most the round timeout (then goes on with what
    /// came, if enough did).
    mutating func openStatistics() {
        roundStart = clock()
        log(.info, "waiting for \(settings.collaborators.count) sites' feature statistics (count, sums and sums of squares) before round 1")
        if let timeout = settings.straggler.roundTimeout { emit(.statisticsTimer(attempt: attempt, after: timeout)) }
    }

    /// A site's statistics (or its reason to decline); returns why they were refused, if they were.
    mutating func receiveStatistics(_ report: FeatureStatisticsReport, from name: String) -> String? {
        guard phase == .statistics else { return "the experiment is past its statistics" }
        var refusal: String?
        if !report.declined.isEmpty {
            declinedStatistics[name] = report.declined
            featureStatistics.removeValue(forKey: name)
            log(.info, "\(name) declined to send feature statistics: \(report.declined)", ["peer": name])
        } else if let problem = statisticsProblem(report, from: name) {
            // Left out of the standardizer, like a site that declined; the others go on.
            declinedStatistics[name] = "refused: \(problem)"
            featureStatistics.removeValue(forKey: name)
            refusal = problem
        } else {
            featureStatistics[name] = FeatureStatistics(count: report.count, sum: report.sum, sumOfSquares: report.sumOfSquares)
            declinedStatistics.removeValue(forKey: name)
        }
        completeStatisticsIfAllIn()
        return refusal
    }

    /// Why a site's statistics cannot count: the wrong number of features, more rows than its site
    /// registered, values that are not finite, or sums no rows could have.
    func statisticsProblem(_ report: FeatureStatisticsReport, from name: String) -> String? {
        let features = settings.standardizationFeatures ?? 0
        guard report.sum.count == features else { return "\(report.sum.count) features, the model takes \(features)" }
        guard report.sumOfSquares.count == features else { return "\(report.sumOfSquares.count) sums of squares, the model takes \(features) features" }
        guard report.count >= 1 else { return "a count of \(report.count) rows" }
        if let cap = settings.sampleCaps[name], report.count > cap { return "\(report.count) rows, more than the \(cap) its site registered" }
        guard report.count <= settings.maximumSampleCount else { return "\(report.count) rows, more than the plausible \(settings.maximumSampleCount)" }
        let n = Double(report.count)
        for j in 0..<features {
            let (sum, squares) = (report.sum[j], report.sumOfSquares[j])
            guard sum.isFinite, squares.isFinite else { return "feature \(j)'s sums are not finite" }
            // Σx² ≥ (Σx)²/n for any rows (Cauchy-Schwarz), up to rounding.
            guard squares >= 0, squares * n >= sum * sum * (1 - 1e-9) - 1e-9 else { return "feature \(j)'s sum of squares is smaller than its rows allow" }
        }
        return nil
    }

    /// Goes on once every site still taking part has sent or declined.
    mutating func completeStatisticsIfAllIn() {
        let expected = settings.collaborators.filter { departed[$0] == nil }
        guard expected.allSatisfy({ featureStatistics[$0] != nil || declinedStatistics[$0] != nil }) else { return }
        completeStatistics()
    }

    /// The statistics timer of attempt `attempt` fired: the straggler policy decides.
    mutating func statisticsTimedOut(attempt: Int) {
        guard phase == .statistics, self.attempt == attempt else { return }
        let expected = settings.collaborators.filter { departed[$0] == nil }
        let answered = expected.filter { featureStatistics[$0] != nil || declinedStatistics[$0] != nil }
        let required = settings.straggler.minimumReporting.required(of: expected.count)
        if answered.count >= required, !featureStatistics.isEmpty { return completeStatistics() }
        let missing = expected.filter { !answered.contains($0) }
        let why = "the sites' feature statistics timed out with \(answered.count) of \(expected.count) in, fewer than the minimum \(required) "
            + "(missing: \(missing.joined(separator: ", ")))"
        shortfall(why, retrying: "waiting again") { $0.openStatistics() }
    }

    /// Adds up the sites' statistics into the federation's standardizer, writes it into the model's
    /// preprocess tensors (checkpointed before round 1, so a restart never asks again) and opens round 1.
    private mutating func completeStatistics() {
        let sites = featureStatistics.keys.sorted()
        guard let first = sites.first else {
            let declined = declinedStatistics.keys.sorted().map { "\($0): \(declinedStatistics[$0]!)" }.joined(separator: "; ")
            return finish(succeeded: false, reason: "no site sent feature statistics, so the federation has no standardizer "
                          + "(\(declined.isEmpty ? "every site departed" : declined))")
        }
        let total = sites.dropFirst().reduce(featureStatistics[first]!) { $0 + featureStatistics[$1]! }
        total.standardizer.write(into: &global)
        let declined = declinedStatistics.keys.sorted()
        log(.info, "the federation's standardizer: \(total.count) training rows from \(sites.count) sites (\(sites.joined(separator: ", ")))"
            + (declined.isEmpty ? "" : "; left out: \(declined.map { "\($0) (\(declinedStatistics[$0]!))" }.joined(separator: ", "))"))
        // Round 0 is served this model: it is on disk before anyone trains on it.
        let checkpoint = AggregatorCheckpoint(experiment: settings.experiment, roundsCompleted: 0, model: global, bestValue: nil,
                                              aggregationState: aggregation.state, modelMetadata: settings.modelMetadata)
        servedModelFile = "\(settings.paths.checkpointDirectory)/\(AggregatorCheckpoint.modelFileName(roundsCompleted: 0))"
        emit(.save(.standardizedModel(checkpoint)))
        featureStatistics = [:]
        declinedStatistics = [:]
        attempt = 0
        phase = .training
        openRound()
    }
}
