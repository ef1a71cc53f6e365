/// The aggregator's side of one round. It never holds a site's input unmasked: masked inputs are
/// added into one running sum as they arrive. `from` arguments are names the caller has verified
/// (the TLS certificate), and each method refuses a sender outside the stage's set or a second call.
///
/// A stage closed below the threshold throws and stays open (the caller decides whether the round
/// has failed); every other refusal leaves the state as it was, so one bad message never spoils
/// the round for the others.
public struct SecureAggregationServer: Sendable {
    enum Stage: Sendable { case advertising, sharing, masking, revealing, done }

    public let round: SecureAggregationRound
    public let parameters: SecureAggregationParameters
    /// The sites invited to this round, sorted.
    public let cohort: [String]
    /// Values in each masked input (the encoded length: the update's count + 1).
    public let vectorLength: Int
    /// The CA whose envoy certificates the advertisements must carry; nil: each advertisement is
    /// only checked to be signed by the certificate it carries, for the sender's name.
    public let trust: SecureAggregationTrust?
    let context: ProtocolContext
    var stage = Stage.advertising
    var advertisements: [String: KeyAdvertisement] = [:]
    /// U1, sorted.
    var keyHolders: [String] = []
    /// Envelopes by sender, each sender's by recipient.
    var envelopes: [String: [String: ShareEnvelope]] = [:]
    /// U2, sorted.
    var sharers: [String] = []
    var sum: [UInt32]
    var maskedFrom = Set<String>()
    var survivors: [String] = []
    var dropped: [String] = []
    var reveals: [String: [RevealedShare]] = [:]

    /// A server for `cohort` (the sites invited; duplicates ignored) whose masked inputs hold
    /// `vectorLength` values each (`SecureAggregationEncoding.encodedCount(values:)`). With `trust`,
    /// an advertisement whose certificate the CA did not issue is refused at once, naming its
    /// sender, rather than by every site when it sees the roster.
    public init(round: SecureAggregationRound, parameters: SecureAggregationParameters, cohort: [String], vectorLength: Int,
                trust: SecureAggregationTrust? = nil) {
        self.round = round
        self.trust = trust
        context = ProtocolContext(round: round, parameters: parameters)
        self.parameters = parameters
        self.cohort = Set(cohort).sorted()
        self.vectorLength = vectorLength
        sum = []
    }

    /// Stage 0: a cohort member's public keys, once, for its own name, well-formed.
    public mutating func receiveAdvertisement(_ advertisement: KeyAdvertisement, from: String) throws(SecureAggregationError) {
        try check(.advertising, from: from, in: cohort, first: advertisements[from] == nil, .advertise)
        guard advertisement.site == from else { throw violation(.advertise, "\(from) advertised keys for \(advertisement.site)", [from]) }
        if let problem = advertisement.problem { throw violation(.advertise, problem, [from]) }
        if let problem = signatureProblem(advertisement) { throw violation(.advertise, problem, [from]) }
        advertisements[from] = advertisement
    }

    /// Ends stage 0: U1 = those who advertised (throws .belowThreshold below threshold).
    public mutating func closeAdvertisements() throws(SecureAggregationError) -> [KeyAdvertisement] {
        try check(.advertising, .advertise)
        if let problem = parameters.problem(cohortSize: cohort.count) ?? agreementProblem { throw violation(.advertise, "the parameters cannot work: \(problem)", []) }
        let holders = advertisements.keys.sorted()
        try require(holders, of: cohort, "advertised keys", .advertise)
        keyHolders = holders
        stage = .sharing
        return holders.map { advertisements[$0]! }
    }

    /// Stage 1: a U1 member's envelopes, once: exactly one to each other U1 member, all carrying
    /// the same commitments to the sender's own share of b and to b (the server keeps the commitments to check
    /// the revealed shares against).
    public mutating func receiveShares(_ envelopes: [ShareEnvelope], from: String) throws(SecureAggregationError) {
        try check(.sharing, from: from, in: keyHolders, first: self.envelopes[from] == nil, .shareKeys)
        let expected = Set(keyHolders).subtracting([from])
        let recipients = envelopes.map(\.to)
        guard envelopes.allSatisfy({ $0.from == from }), recipients.count == expected.count, Set(recipients) == expected else {
            throw violation(.shareKeys, "\(from) did not send exactly one envelope to each other site with keys", [from])
        }
        guard envelopes.allSatisfy({ $0.commitment.count == ProtocolKeys.commitmentCount }),
              Set(envelopes.map { $0.commitment.suffix(ProtocolKeys.senderCommitmentCount) }).count == 1
        else { throw violation(.shareKeys, "\(from) sent malformed or inconsistent commitments", [from]) }
        self.envelopes[from] = Dictionary(uniqueKeysWithValues: envelopes.map { ($0.to, $0) })
    }

    /// Ends stage 1: U2 = those who sent shares (throws below threshold).
    public mutating func closeShares() throws(SecureAggregationError) -> [String] {
        try check(.sharing, .shareKeys)
        let sharers = envelopes.keys.sorted()
        try require(sharers, of: keyHolders, "shared keys", .shareKeys)
        self.sharers = sharers
        sum = [UInt32](repeating: 0, count: vectorLength)
        stage = .masking
        return sharers
    }

    /// The envelopes addressed to `site` from U2 members (none before stage 1 closes).
    public func envelopes(for site: String) -> [ShareEnvelope] {
        guard stage != .advertising, stage != .sharing else { return [] }
        return sharers.compactMap { envelopes[$0]?[site] }
    }

    /// Adds a U2 member's masked vector (vectorLength values) into the running sum, wrapping mod 2^bits.
    public mutating func receiveMaskedInput(_ values: UnsafeBufferPointer<UInt32>, from: String) throws(SecureAggregationError) {
        try check(.masking, from: from, in: sharers, first: !maskedFrom.contains(from), .maskInput)
        guard values.count == vectorLength else {
            throw violation(.maskInput, "\(from) sent \(values.count) values, expected \(vectorLength)", [from])
        }
        sum.withUnsafeMutableBufferPointer { total in
            // Wrapping in 32 bits and reducing once at the end equals reducing mod 2^bits throughout.
            for i in 0..<total.count { total[i] &+= values[i] }
        }
        maskedFrom.insert(from)
    }

    /// Ends stage 2: (survivors U3, dropped U2∖U3), both sorted (throws below threshold).
    public mutating func closeMaskedInputs() throws(SecureAggregationError) -> (survivors: [String], dropped: [String]) {
        try check(.masking, .maskInput)
        let survivors = maskedFrom.sorted()
        try require(survivors, of: sharers, "sent masked inputs", .maskInput)
        self.survivors = survivors
        dropped = sharers.filter { !maskedFrom.contains($0) }
        stage = .revealing
        return (survivors, dropped)
    }

    /// Who has advertised keys so far (stage 0), sorted: the caller waits for the rest of its cohort.
    public var advertisedSites: [String] { advertisements.keys.sorted() }
    /// Who has sent its envelopes so far (stage 1), sorted.
    public var sharingSites: [String] { envelopes.keys.sorted() }
    /// Whose masked input has been added to the sum so far (stage 2), sorted.
    public var maskedSites: [String] { maskedFrom.sorted() }
    /// Who has revealed its shares so far (stage 3), sorted.
    public var revealingSites: [String] { reveals.keys.sorted() }

    /// Why the round's agreed values contradict this server's cohort or vector length, or nil.
    private var agreementProblem: String? {
        if let problem = round.problem { return problem }
        if let size = round.cohortSize, size != cohort.count { return "the round's agreed cohort size is \(size), the cohort has \(cohort.count) sites" }
        if let length = round.vectorLength, length != vectorLength { return "the round's agreed vector length is \(length), the server sums \(vectorLength)" }
        return nil
    }

    /// Why the sites will not believe `advertisement`, or nil.
    private func signatureProblem(_ advertisement: KeyAdvertisement) -> String? {
        if let trust { return trust.problem(with: advertisement, context) }
        guard let certificate = SecureAggregationTrust.certificate(advertisement.certificate) else {
            return "\(advertisement.site)'s certificate does not parse"
        }
        return SecureAggregationTrust.signatureProblem(advertisement, certificate, context)
    }

    /// Refuses a call outside `expected`, a sender outside `members`, or a second submission.
    func check(_ expected: Stage, from: String, in members: [String], first: Bool, _ stage: SecureAggregationError.Stage) throws(SecureAggregationError) {
        try check(expected, stage)
        guard members.contains(from) else { throw violation(stage, "\(from) is not one of the sites this stage accepts", [from]) }
        guard first else { throw violation(stage, "\(from) already sent its part of this stage", [from]) }
    }

    func check(_ expected: Stage, _ stage: SecureAggregationError.Stage) throws(SecureAggregationError) {
        guard self.stage == expected else { throw violation(stage, "the server is at \(self.stage), not \(expected)", []) }
    }

    /// Throws .belowThreshold, naming who of `all` is missing, when `present` is too few.
    func require(_ present: [String], of all: [String], _ what: String, _ stage: SecureAggregationError.Stage) throws(SecureAggregationError) {
        guard present.count >= parameters.threshold else {
            throw SecureAggregationError(kind: .belowThreshold, sites: all.filter { !present.contains($0) },
                                         message: "\(present.count) of \(all.count) sites \(what), \(parameters.threshold) needed", stage: stage)
        }
    }

    func violation(_ stage: SecureAggregationError.Stage, _ message: String, _ sites: [String]) -> SecureAggregationError {
        SecureAggregationError(kind: .protocolViolation, sites: sites, message: message, stage: stage)
    }
}
