import FLPrivacy
import FLWire

/// The stages of one secure aggregation, in order.
enum SecureAggregationStage: String, Sendable, Hashable {
    case keys, shares
    case maskedInputs = "masked inputs"
    case reveal
    /// Unmasked and folded (or failed): nothing more is taken.
    case done
}

/// One round attempt's secure aggregation on the aggregator, owned by `RoundMachine` under its
/// lock: FLPrivacy's server side, the set of sites the current stage waits for, what they sent,
/// and the stage requests held until the stage closes. Nothing in it is a site's update in the
/// clear: masked inputs go straight into the server's running sum.
struct SecureAggregationSession<Waiter> {
    let round: Int
    let attempt: Int
    /// The sites with a training task this attempt, sorted.
    let cohort: [String]
    /// Each cohort member's training task.
    let trainTasks: [String: String]
    /// Each member's weight cap (`SecAggRoster.weightCap`) and the common scale.
    let weightCaps: [String: Int]
    let weightScale: Int
    /// Values in a masked input (the model's and the weight).
    let vectorLength: Int
    var server: SecureAggregationServer
    var stage: SecureAggregationStage = .keys
    /// Who the current stage was opened for, and who of them it still counts on (departed and
    /// disconnected sites leave it).
    var stageSites: Set<String>
    var expected: Set<String>
    /// Who sent in the current stage.
    var received: Set<String> = []
    /// The current stage's held requests (keys, shares, masked inputs), by site.
    var held: [String: Waiter] = [:]
    /// Each masked input's outcome without its vector: its metrics count once the round unmasks.
    var outcomes: [String: SecAggMaskedInput] = [:]
    /// Sites left out at some stage: they cannot contribute to this attempt any more.
    var shutOut: Set<String> = []
    /// Sites gone (departed or disconnected) during the attempt.
    var gone: Set<String> = []
    /// Whether the attempt's sum was unmasked: from then on the round is never run again (see
    /// `RoundMachine.closeAfterUnmaskInsteadOfRetrying`).
    var unmasked = false
    /// Sites whose masked input is being read: one at a time each, so that one site cannot take
    /// every staging buffer by announcing many at once.
    var uploading: Set<String> = []

    init(round: Int, attempt: Int, trainTasks: [String: String], weightCaps: [String: Int], weightScale: Int, vectorLength: Int,
         server: SecureAggregationServer) {
        self.vectorLength = vectorLength
        self.round = round
        self.attempt = attempt
        self.cohort = trainTasks.keys.sorted()
        self.trainTasks = trainTasks
        self.weightCaps = weightCaps
        self.weightScale = weightScale
        self.server = server
        self.stageSites = Set(cohort)
        self.expected = Set(cohort)
    }

    /// What cohort member `site` is told with its tasks; nil for a site outside the cohort.
    func terms(for site: String) -> SecureAggregationTerms? {
        guard let cap = weightCaps[site] else { return nil }
        return SecureAggregationTerms(cohortSize: cohort.count, vectorLength: vectorLength, weightCap: cap, weightScale: weightScale)
    }

    /// Whether every site the stage counts on has sent.
    var isStageComplete: Bool { expected.isSubset(of: received) }

    /// The sites the stage was opened for that have not sent (gone or silent), sorted, for log lines.
    var missing: [String] { stageSites.subtracting(received).sorted() }

    /// Moves to `next`, waiting for `sites` (less those gone).
    mutating func advance(to next: SecureAggregationStage, expecting sites: [String]) {
        let left = Set(cohort).subtracting(sites)
        shutOut.formUnion(left)
        stage = next
        stageSites = Set(sites)
        expected = Set(sites).subtracting(gone)
        received = []
        held = [:]
    }
}

extension SecureAggregationSession: Sendable where Waiter: Sendable {}
