import Synchronization
import Testing
import FLCore
import FLPKI
import FLPrivacy
import FLTesting
import FLWire
@testable import FLRoles

/// Secure aggregation's stages in the round machine alone: real FLPrivacy clients play the sites,
/// the machine's effects are the aggregator's answers. No sockets, no clock.
struct RoundMachineSecureAggregationTests {
    typealias Machine = RoundMachine<String>

    static func settings(sites: [String] = ["a", "b", "c"], threshold: Int = 2, weighting: SecureAggregationParameters.Weighting = .samples,
                         straggler: StragglerPolicy = StragglerPolicy(), caps: [String: Int] = [:]) -> AggregatorSettings {
        var settings = RoundMachineTests.settings(rounds: 1, collaborators: sites, straggler: straggler)
        settings.secureAggregation = SecureAggregationPlan(parameters: SecureAggregationParameters(threshold: threshold, clipRange: 4, bits: 32,
                                                                                                   weighting: weighting), stageTimeout: 10)
        settings.sampleCaps = caps
        settings.maximumSampleCount = 100
        return settings
    }

    /// The federation's CA with an envoy certificate for each site, shared by the tests.
    static let pki: TestPKI = try! TestPKI()
    static let trust = SecureAggregationTrust(authority: try! Certificate.load(path: pki.caCertificatePath))
    static let identities = Mutex<[String: SecureAggregationIdentity]>([:])

    static func identity(_ name: String) throws -> SecureAggregationIdentity {
        if let known = identities.withLock({ $0[name] }) { return known }
        let issued = try pki.issueIdentity(name: name)
        let identity = SecureAggregationIdentity(certificate: issued.certificate, key: try PrivateKey.load(path: issued.privateKeyPath))
        identities.withLock { $0[name] = identity }
        return identity
    }

    /// A machine for `settings` whose server believes the test CA.
    static func machine(_ settings: AggregatorSettings) throws -> Machine {
        var m = try RoundMachineTests.machine(settings)
        m.secureAggregationTrust = trust
        return m
    }

    /// One site: its protocol client for the current attempt, made with the terms the machine gives it.
    struct Site {
        var name: String
        var client: SecureAggregationClient
        var terms: SecureAggregationTerms
        init(_ name: String, _ m: Machine) throws {
            self.name = name
            terms = try #require(m.secureSession?.terms(for: name))
            let parameters = m.settings.secureAggregation!.parameters
            let round = SecureAggregationRound(experiment: "e", round: m.round, attempt: m.attempt, cohortSize: terms.cohortSize,
                                               vectorLength: terms.vectorLength, weightScale: parameters.weighting == .samples ? terms.weightScale : nil)
            client = try SecureAggregationClient(site: name, round: round, parameters: parameters, identity: try RoundMachineSecureAggregationTests.identity(name),
                                                 trust: RoundMachineSecureAggregationTests.trust)
        }
    }

    /// Every stage reply in `effects`, by waiter.
    static func stageReplies(_ effects: [RoundEffect<String>]) -> [String: any WireMessage] {
        var replies: [String: any WireMessage] = [:]
        for case let .stageReply(waiter, message) in effects { replies[waiter] = message }
        return replies
    }

    static func sendKeys(_ m: inout Machine, _ site: Site) {
        let own = site.client.advertisement
        m.receiveKeys(SecAggKeys(round: m.round, attempt: m.attempt, encryptionKey: own.encryptionKey, maskingKey: own.maskingKey,
                                 certificate: own.certificate, signature: own.signature), from: site.name, waiter: site.name)
    }

    static func sendShares(_ m: inout Machine, _ site: inout Site, roster: SecAggRoster) throws {
        let advertisements = roster.advertisements.map {
            KeyAdvertisement(site: $0.site, encryptionKey: $0.encryptionKey, maskingKey: $0.maskingKey, certificate: $0.certificate, signature: $0.signature)
        }
        let envelopes = try site.client.shareKeys(roster: advertisements)
        m.receiveShares(SecAggShares(round: m.round, attempt: m.attempt, envelopes: envelopes.map {
            SecAggEnvelope(from: $0.from, to: $0.to, ciphertext: $0.ciphertext, commitment: $0.commitment)
        }), from: site.name, waiter: site.name)
    }

    static func sendMaskedInput(_ m: inout Machine, _ site: inout Site, _ reply: SecAggSharesReply, delta: [Float], samples: Int) throws {
        let parameters = m.settings.secureAggregation!.parameters
        let factor = parameters.weighting == .uniform ? 1 : Double(min(samples, site.terms.weightCap)) / Double(site.terms.weightScale)
        let encoding = try SecureAggregationEncoding(parameters: parameters, cohortSize: site.terms.cohortSize)
        var generator = SystemRandomNumberGenerator()
        let encoded = delta.withUnsafeBufferPointer { encoding.encode($0, weightFactor: factor, using: &generator) }
        let received = reply.envelopes.map { ShareEnvelope(from: $0.from, to: $0.to, ciphertext: $0.ciphertext, commitment: $0.commitment) }
        let masked = try site.client.maskInput(encoded, received: received)
        let input = SecAggMaskedInput(round: m.round, attempt: m.attempt, task: "train", sampleCount: samples, metrics: ["loss": 1], count: masked.count)
        masked.withUnsafeBufferPointer { m.receiveMaskedInput(input, values: $0, from: site.name, waiter: site.name) }
    }

    /// `tampered`: the site flips a bit of every share it reveals (they fail their commitments).
    static func sendReveal(_ m: inout Machine, _ site: Site, _ unmask: SecAggUnmask, tampered: Bool = false) throws {
        var shares = try site.client.reveal(survivors: unmask.survivors, dropped: unmask.dropped)
        if tampered { for i in shares.indices { shares[i].share[shares[i].share.count - 1] ^= 1 } }
        m.receiveReveal(SecAggReveal(round: m.round, attempt: m.attempt, shares: shares.map {
            SecAggRevealedShare(owner: $0.owner, kind: $0.kind.rawValue, share: $0.share, salt: $0.salt)
        }), from: site.name, waiter: site.name)
    }

    static func validate(_ m: inout Machine, _ name: String) {
        let validation = TaskResultMessage(round: m.round, task: "validate", sampleCount: 10, metrics: ["accuracy": 0.5], layout: nil)
        m.record(validation, from: name, weight: 10)
    }

    /// Runs a round to its reveal: `deltas` by site, `leaving` departs after its shares (before its masked input).
    static func run(_ m: inout Machine, deltas: [String: [Float]], samples: [String: Int], leaving: String? = nil,
                    tampering: String? = nil) throws -> [RoundEffect<String>] {
        var sites = try m.settings.collaborators.map { try Site($0, m) }
        for site in sites { validate(&m, site.name) }
        for site in sites { sendKeys(&m, site) }
        let rosters = stageReplies(m.takeEffects())
        for i in sites.indices { try sendShares(&m, &sites[i], roster: rosters[sites[i].name] as! SecAggRoster) }
        let shares = stageReplies(m.takeEffects())
        if let leaving { m.depart(leaving, reason: "test") }
        for i in sites.indices where sites[i].name != leaving {
            try sendMaskedInput(&m, &sites[i], shares[sites[i].name] as! SecAggSharesReply, delta: deltas[sites[i].name]!,
                                samples: samples[sites[i].name]!)
        }
        let unmasks = stageReplies(m.takeEffects())
        for site in sites where site.name != leaving {
            try sendReveal(&m, site, unmasks[site.name] as! SecAggUnmask, tampered: site.name == tampering)
        }
        return m.takeEffects()
    }

    static func checkpointModel(_ effects: [RoundEffect<String>]) -> [Float]? {
        for case let .save(.roundCheckpoint(checkpoint, _, _)) in effects { return checkpoint.model.values }
        return nil
    }

    @Test func theRoundUnmasksToTheWeightedMeanOfTheUpdatesAndClosesAsUsual() throws {
        var m = try Self.machine(Self.settings(caps: ["a": 20]))
        m.start()
        _ = m.takeEffects()
        let deltas: [String: [Float]] = ["a": [1, -1], "b": [0.5, 2], "c": [-3, 0.25]]
        // a claims 30 samples but registered 20; b and c are capped at max_sample_count (100).
        let effects = try Self.run(&m, deltas: deltas, samples: ["a": 30, "b": 40, "c": 10])
        let model = try #require(Self.checkpointModel(effects))
        let weights: [String: Double] = ["a": 20, "b": 40, "c": 10]
        let bound = try SecureAggregationEncoding(parameters: m.settings.secureAggregation!.parameters, cohortSize: 3).quantizationBound(contributors: 3)
        for i in 0..<2 {
            let expected = deltas.keys.map { weights[$0]! * Double(deltas[$0]![i]) }.reduce(0, +) / 70
            // Σf·Δ and Σf are each off by less than 3 steps; Σf ≥ 0.7 (70 of a scale of 100).
            #expect(abs(Double(model[i]) - expected) <= (bound * (1 + abs(expected))) / 0.7 + 1e-6, "value \(i): \(model[i]) vs \(expected)")
        }
        #expect(m.round == 1 || m.phase == .done)
        let closed = effects.compactMap { if case let .event(.roundClosed(s)) = $0 { s } else { nil } }
        #expect(closed.first?.reported == ["a", "b", "c"])
    }

    @Test func aSiteThatLeavesAfterItsSharesIsDroppedAndTheOthersAreStillSummed() throws {
        let policy = StragglerPolicy(minimumReporting: .count(2), roundTimeout: 60, shortfall: .fail)
        var m = try Self.machine(Self.settings(weighting: .uniform, straggler: policy))
        m.start()
        _ = m.takeEffects()
        let effects = try Self.run(&m, deltas: ["a": [1, 2], "b": [3, -2], "c": [100, 100]], samples: ["a": 5, "b": 5, "c": 5], leaving: "c")
        let model = try #require(Self.checkpointModel(effects))
        #expect(abs(model[0] - 2) < 1e-5 && abs(model[1] - 0) < 1e-5, "\(model)")
        let closed = effects.compactMap { if case let .event(.roundClosed(s)) = $0 { s } else { nil } }
        #expect(closed.first?.reported == ["a", "b"] && closed.first?.missing == ["c"])
    }

    /// A site that stays connected but silent is left out when the round's timer closes the masked
    /// inputs; the timer is set again, and when it fires with fewer sites than minimum_reporting the
    /// round closes with those it has: retrying would unmask a second sum of the same updates (the
    /// difference of the two would be the silent site's).
    @Test func afterASumIsUnmaskedTheRoundClosesWithItsSitesInsteadOfRetrying() throws {
        let policy = StragglerPolicy(minimumReporting: .all, roundTimeout: 60, shortfall: .retry(3))
        var m = try Self.machine(Self.settings(weighting: .uniform, straggler: policy))
        m.start()
        _ = m.takeEffects()
        var sites = try m.settings.collaborators.map { try Site($0, m) }
        for site in sites { Self.validate(&m, site.name) }
        for site in sites { Self.sendKeys(&m, site) }
        let rosters = Self.stageReplies(m.takeEffects())
        for i in sites.indices { try Self.sendShares(&m, &sites[i], roster: rosters[sites[i].name] as! SecAggRoster) }
        let shares = Self.stageReplies(m.takeEffects())
        for i in 0..<2 { try Self.sendMaskedInput(&m, &sites[i], shares[sites[i].name] as! SecAggSharesReply, delta: [1, 1], samples: 5) }
        _ = m.takeEffects()
        m.roundTimedOut(round: 0, attempt: 0)
        let timedOut = m.takeEffects()
        #expect(timedOut.contains { if case .roundTimer = $0 { true } else { false } }, "the round's timer is set again")
        let unmasks = Self.stageReplies(timedOut)
        for site in sites.prefix(2) { try Self.sendReveal(&m, site, unmasks[site.name] as! SecAggUnmask) }
        _ = m.takeEffects()
        m.roundTimedOut(round: 0, attempt: 0)
        let effects = m.takeEffects()
        let closed = effects.compactMap { if case let .event(.roundClosed(s)) = $0 { s } else { nil } }
        #expect(closed.first?.attempt == 0 && closed.first?.reported == ["a", "b"] && closed.first?.missing == ["c"], "\(closed)")
        #expect(effects.contains { if case let .log(.warning, line, _) = $0 { line.contains("rather than retrying it") } else { false } })
    }

    /// One masked input in flight per site: a second announcement while the first is read is refused
    /// (one site must not take every staging buffer); a lost upload frees its place.
    @Test func aSiteHasOneMaskedInputArrivingAtATime() throws {
        var m = try Self.machine(Self.settings())
        m.start()
        _ = m.takeEffects()
        #expect(m.reserveMaskedUpload(from: "a") == nil)
        #expect(m.reserveMaskedUpload(from: "a")?.code == .conflict)
        #expect(m.reserveMaskedUpload(from: "b") == nil)
        m.releaseMaskedUpload(from: "a")
        #expect(m.reserveMaskedUpload(from: "a") == nil)
    }

    @Test func aSiteRevealingSharesThatFailTheirCommitmentsIsNamedAndLeftOutOfTheUnmasking() throws {
        var m = try Self.machine(Self.settings(weighting: .uniform))
        m.start()
        _ = m.takeEffects()
        let effects = try Self.run(&m, deltas: ["a": [1, 1], "b": [2, 2], "c": [3, 3]], samples: ["a": 5, "b": 5, "c": 5], tampering: "c")
        let named = effects.compactMap { if case let .event(.updateRejected(site, reason)) = $0 { "\(site): \(reason)" } else { nil } }
        #expect(named == ["c: secure aggregation, round 0: a revealed share fails its commitment"])
        #expect(effects.contains { if case let .log(.warning, line, fields) = $0 { line.contains("c revealed a share") && fields["peer"] == "c" } else { false } })
        // a's and b's shares (2, the threshold) unmask every input, c's included.
        let model = try #require(Self.checkpointModel(effects))
        #expect(abs(model[0] - 2) < 1e-5 && abs(model[1] - 2) < 1e-5, "\(model)")
    }

    @Test func eachStageRequestIsCheckedAsAnAttackerWouldSendIt() throws {
        var m = try Self.machine(Self.settings(sites: ["a", "b", "c"]))
        m.start()
        _ = m.takeEffects()
        let a = try Site("a", m)
        let key = a.client.advertisement
        // Another attempt, a second submission, a stage not open, a plain training result.
        m.receiveKeys(SecAggKeys(round: 0, attempt: 1, encryptionKey: key.encryptionKey, maskingKey: key.maskingKey,
                                 certificate: key.certificate, signature: key.signature), from: "a", waiter: "stale")
        Self.sendKeys(&m, a)
        m.receiveKeys(SecAggKeys(round: 0, attempt: 0, encryptionKey: key.encryptionKey, maskingKey: key.maskingKey,
                                 certificate: key.certificate, signature: key.signature), from: "a", waiter: "again")
        m.receiveShares(SecAggShares(round: 0, attempt: 0, envelopes: []), from: "b", waiter: "early")
        let replies = Self.stageReplies(m.takeEffects())
        #expect((replies["stale"] as? ErrorReply)?.code == .conflict)
        #expect((replies["again"] as? ErrorReply)?.message.contains("already sent") == true)
        #expect((replies["early"] as? ErrorReply)?.code == .conflict)
        #expect(replies["a"] == nil)
        let plain = TaskResultMessage(round: 0, task: "train", sampleCount: 5, metrics: [:], layout: m.layout)
        guard case .refuse(.rejected, _) = m.judge(plain, from: "b", streamBytes: m.layout.byteCount) else { Issue.record("plain update accepted"); return }
        let input = SecAggMaskedInput(round: 0, attempt: 0, task: "train", sampleCount: 5, metrics: [:], count: m.layout.count + 1)
        #expect(m.judgeMaskedInput(input, from: "a", streamBytes: input.count * 4)?.code == .conflict)
        // a, having sent its keys, is not handed its training task again (it reconnected, say); b still is.
        m.requestTasks(from: "a", waiter: "a-asks", wait: 5)
        m.requestTasks(from: "b", waiter: "b-asks", wait: 5)
        let tasks = RoundMachineTests.replies(m.takeEffects())
        #expect(tasks["a-asks"]?.tasks == ["validate"] && tasks["b-asks"]?.tasks == ["validate", "train"])
    }

    @Test func aStageTimeoutLeavesOutTheSilentSiteAndItsLaterRequestsAreRefused() throws {
        var m = try Self.machine(Self.settings())
        m.start()
        let timers = m.takeEffects().compactMap { if case let .secureAggregationTimer(_, _, stage, seconds) = $0 { (stage, seconds) } else { nil } }
        #expect(timers.map(\.0) == [.keys] && timers.first?.1 == 10)
        let sites = try ["a", "b", "c"].map { try Site($0, m) }
        Self.sendKeys(&m, sites[0])
        Self.sendKeys(&m, sites[1])
        #expect(Self.stageReplies(m.takeEffects()).isEmpty)
        m.secureAggregationTimedOut(round: 0, attempt: 0, stage: .keys)
        let rosters = Self.stageReplies(m.takeEffects())
        #expect(Set(rosters.keys) == ["a", "b"])
        #expect((rosters["a"] as? SecAggRoster)?.advertisements.map(\.site) == ["a", "b"])
        Self.sendKeys(&m, sites[2])
        #expect((Self.stageReplies(m.takeEffects())["c"] as? ErrorReply)?.code == .conflict)
        // A stale timer of the closed stage changes nothing.
        m.secureAggregationTimedOut(round: 0, attempt: 0, stage: .keys)
        #expect(m.secureSession?.stage == .shares)
    }

    /// Without a round timeout the round waits for every site, but one left out at the keys stage can
    /// never report its training: once the others' sum is unmasked the round closes without it (a
    /// retry would unmask a second sum of the same updates, which the first would give away).
    @Test func withoutARoundTimeoutASiteLeftOutOfTheKeysStageIsMissingFromTheRound() throws {
        var m = try Self.machine(Self.settings(straggler: StragglerPolicy(minimumReporting: .all, roundTimeout: nil, shortfall: .retry(1))))
        m.start()
        _ = m.takeEffects()
        var sites = try ["a", "b"].map { try Site($0, m) }
        for site in sites { Self.validate(&m, site.name) }
        for site in sites { Self.sendKeys(&m, site) }
        m.secureAggregationTimedOut(round: 0, attempt: 0, stage: .keys)
        let rosters = Self.stageReplies(m.takeEffects())
        for i in sites.indices { try Self.sendShares(&m, &sites[i], roster: rosters[sites[i].name] as! SecAggRoster) }
        let shares = Self.stageReplies(m.takeEffects())
        for i in sites.indices { try Self.sendMaskedInput(&m, &sites[i], shares[sites[i].name] as! SecAggSharesReply, delta: [1, 1], samples: 5) }
        let unmasks = Self.stageReplies(m.takeEffects())
        for site in sites { try Self.sendReveal(&m, site, unmasks[site.name] as! SecAggUnmask) }
        // a and b reported; c, left out at the keys stage, never can: the round closes without it.
        let effects = m.takeEffects()
        let logged = effects.compactMap { if case let .log(.warning, line, _) = $0 { line } else { nil } }
        #expect(logged.contains { $0.contains("c left out of secure aggregation cannot report") && $0.contains("rather than retrying it") }, "\(logged)")
        let closed = effects.compactMap { if case let .event(.roundClosed(s)) = $0 { s } else { nil } }
        #expect(closed.first?.attempt == 0 && closed.first?.reported == ["a", "b"] && closed.first?.missing == ["c"], "\(closed)")
    }

    @Test func belowTheThresholdTheRoundFailsCleanlyAndTheShortfallRetriesThenFails() throws {
        let policy = StragglerPolicy(minimumReporting: .all, roundTimeout: 60, shortfall: .retry(1))
        var m = try Self.machine(Self.settings(threshold: 3, straggler: policy))
        for name in ["a", "b", "c"] { _ = m.connect(name) }
        m.start()
        _ = m.takeEffects()
        for name in ["a", "b"] { Self.sendKeys(&m, try Site(name, m)) }
        // c's connection closes: the keys stage has everyone it can have, below the threshold.
        m.disconnect("c") { _ in true }
        var effects = m.takeEffects()
        let replies = Self.stageReplies(effects)
        #expect((replies["a"] as? ErrorReply)?.message.contains("keys stage") == true)
        #expect((replies["b"] as? ErrorReply)?.code == .conflict)
        let logged = effects.compactMap { if case let .log(.error, line, _) = $0 { line } else { nil } }
        #expect(logged.contains { $0.contains("keys stage") && $0.contains("threshold 3") && $0.contains("missing: c") }, "\(logged)")
        #expect(m.attempt == 1 && m.phase == .training && m.secureSession?.attempt == 1)
        // The retry: c is still away, so the keys stage fails again and the experiment fails.
        for name in ["a", "b"] { Self.sendKeys(&m, try Site(name, m)) }
        m.secureAggregationTimedOut(round: 0, attempt: 1, stage: .keys)
        effects = m.takeEffects()
        #expect(m.phase == .done && m.outcome?.succeeded == false)
        #expect(m.outcome?.reason.contains("secure aggregation of round 0 failed at the keys stage") == true, "\(m.outcome?.reason ?? "")")
        #expect(m.outcome?.reason.contains("threshold 3") == true)
    }
}
