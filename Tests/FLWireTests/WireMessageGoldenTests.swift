import Testing
import FLCore
@testable import FLWire

/// The exact bytes of every control message, recorded from the hand-written encoders before the
/// messages were described once by their fields: a change to how messages are encoded must leave
/// these bytes (and so interoperability with older peers and the fuzz corpus) untouched.
@Suite struct WireMessageGoldenTests {
    static let layout = try! ModelLayout([TensorSpec(name: "conv.weight", shape: [3, 2]), TensorSpec(name: "b", shape: [2])])
    static let shard = ShardDescriptor(path: "a.csv", labelColumn: "y", sampleShape: [28, 28], targetShape: [1], sampleCount: 190, description: "A")
    static let envoy = EnvoyInfo(name: "e1", shard: shard, online: true, lastHeartbeatAge: 0.5, currentExperiment: "x", collaboratorRunning: false,
                                 cpuPercent: 37.5, residentBytes: 1 << 20, availableBytes: 1 << 30, registeredAt: 1_700_000_000)
    static let quietEnvoy = EnvoyInfo(name: "e2", shard: shard, online: false, lastHeartbeatAge: nil, currentExperiment: "", collaboratorRunning: true,
                                      cpuPercent: 0, residentBytes: 0, availableBytes: 0, registeredAt: 0)
    static let experiment = ExperimentInfo(
        name: "first", status: .running, reason: "r", archiveSHA256: "cd", archiveSize: 20480, submittedBy: "alice", submittedAt: 1.5,
        startedAt: 2, finishedAt: nil, queuePosition: 1, roundsToTrain: 10, roundsCompleted: 3, currentRound: -1, launches: 2,
        collaborators: ["a", "b"], bestMetric: "acc", bestValue: 0.97, lastMetrics: ["z": 1, "acc": 0.97],
        rounds: [RoundInfo(round: 2, finalValidation: true, attempt: 1, metrics: ["loss": 0.1, "acc": 0.5], reported: ["a"], missing: ["b"],
                           duration: 0.5, best: true, bestValidation: true, sites: ["b": ["acc": 0.25], "a": ["acc": 0.5, "f1": 0.4]]),
                 RoundInfo(round: 3, finalValidation: false, attempt: 2, metrics: [:], reported: [], missing: [], duration: 0, best: false)],
        sites: [SiteInfo(envoy: "a", state: .running), SiteInfo(envoy: "c", state: .absent, reason: "no", exitStatus: "killed")],
        version: 42)
    static let queued = ExperimentInfo(name: "q", archiveSHA256: "", archiveSize: 0, submittedBy: "", submittedAt: 0)

    /// One representative value of every message, with the bytes it encodes to (hex).
    static let golden: [(any WireMessage, String)] = [
        (ErrorReply(.conflict, "taken"), "05000500000074616b656e"),
        (OkReply(), ""),
        (Ping(), ""),
        (CollaboratorHello(collaborator: "s1", experiment: "mnist"), "020000007331050000006d6e6973740100"),
        (AggregatorWelcome(experiment: "m", roundsToTrain: 10, currentRound: 2, layout: layout, wantsFeatureStatistics: true),
         // Two empty optionals (secure aggregation, distributed privacy) appended in issue 15.
         "010000006d0a000000000000000200000000000000020000000b000000636f6e762e776569676874030000004633320200000003000000000000000200000000000000010000006203000000463332010000000200000000000000010000"),
        (TaskRequest(round: 3, maximumWaitSeconds: 30), "03000000000000000000000000003e40"),
        (TaskReply(status: .run, round: 3, tasks: ["train", "validate"], reason: "x"),
         "0103000000000000000200000005000000747261696e0800000076616c69646174650100000078" + "0000000000000000" + "00"),
        (ModelRequest(round: 7), "0700000000000000"),
        (ModelReply(round: 1, layout: layout),
         "0100000000000000020000000b000000636f6e762e776569676874030000004633320200000003000000000000000200000000000000010000006203000000463332010000000200000000000000"),
        (TaskResultMessage(round: 1, task: "train", sampleCount: -5, metrics: ["loss": 0.1, "acc": 0.9], layout: layout), "010000000000000005000000747261696efbffffffffffffff0200000003000000616363cdccccccccccec3f040000006c6f73739a9999999999b93f01020000000b000000636f6e762e776569676874030000004633320200000003000000000000000200000000000000010000006203000000463332010000000200000000000000"),
        (TaskResultMessage(round: 1, task: "validate", sampleCount: 60, metrics: [:], layout: nil), "01000000000000000800000076616c69646174653c000000000000000000000000"),
        (FeatureStatisticsReport(count: 3, sum: [1, 2], sumOfSquares: [3, 4]), "030000000000000002000000000000000000f03f0000000000000040020000000000000000000840000000000000104000000000"),
        (FeatureStatisticsReport.declining("too few rows"), "000000000000000000000000000000000c000000746f6f2066657720726f7773"),
        // Capacity, running and handled were added at the ends of their messages (deliberately new
        // bytes there); what older Envoys send still reads: see `olderEnvoysMessagesStillRead`.
        (EnvoyRegistration(envoy: "e1", shard: shard, capacity: 2), "0200000065310300000063737605000000612e6373760100000079020000001c000000000000001c00000000000000010000000100000000000000be00000000000000010000004101000200000000000000"),
        (EnvoyWelcome(heartbeatPeriod: 0.2, sampleShape: [30], targetShape: [1]), "9a9999999999c93f010000001e00000000000000010000000100000000000000"),
        (EnvoyHeartbeat(cpuPercent: 12.5, residentBytes: 1 << 20, availableBytes: 1 << 30, collaboratorRunning: true, experiment: "x"), "000000000000294000001000000000000000004000000000010100000078010000000100000078"),
        (WorkRequest(experiment: "x", launch: 2, state: .exited, maximumWaitSeconds: 30), "01000000780200000000000000030000000000003e40010000000100000078020000000000000003"),
        (WorkAssignment(action: .run, experiment: "x", launch: 2, archiveSHA256: "ab", archiveSize: 9, aggregatorHost: "10.0.0.1",
                        aggregatorPort: 50051, aggregatorName: "agg", collaborators: ["a", "b"], collaboratorRows: [10, 20], reason: "why"), "020100000078020000000000000002000000616209000000000000000800000031302e302e302e3183c3000000000000030000006167670200000001000000610100000062020000000a00000000000000140000000000000003000000776879"),
        (WorkAssignment(action: .wait), "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"),
        (ArchiveRequest(experiment: "x"), "0100000078"),
        (ArchiveReply(experiment: "x", sha256: "ab"), "0100000078020000006162"),
        (SiteReport(experiment: "x", launch: 1, event: .collaboratorExited, reason: "boom", exitStatus: "exited with status 0", succeeded: true), "010000007801000000000000000404000000626f6f6d14000000657869746564207769746820737461747573203001"),
        (SubmitExperiment(name: "x", sha256: "ab", envoys: ["e"]), "01000000780200000061620100000001000000" + "65"),
        (ExperimentListRequest(), ""),
        (ExperimentListReply(experiments: [experiment, queued], stateWarning: "disk full"), "02000000050000006669727374020100000072020000006364005000000000000005000000616c696365000000000000f83f0100000000000000400001000000000000000a000000000000000300000000000000ffffffffffffffff0200000000000000020000000100000061010000006203000000616363010ad7a3703d0aef3f02000000030000006163630ad7a3703d0aef3f010000007a000000000000f03f0200000002000000000000000101000000000000000200000003000000616363000000000000e03f040000006c6f73739a9999999999b93f010000000100000061010000000100000062000000000000e03f01010200000001000000610200000003000000616363000000000000e03f0200000066319a9999999999d93f01000000620100000003000000616363000000000000d03f03000000000000000002000000000000000000000000000000000000000000000000000000000000000000020000000100000061030000000000000000010000006306020000006e6f060000006b696c6c65642a00000000000000010000007100000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000ffffffffffffffff00000000000000000000000000000000000000000000000000000000000100000000000000090000006469736b2066756c6c"),
        (ExperimentStatusRequest(name: "x", afterVersion: 41, maximumWaitSeconds: 30), "010000007829000000000000000000000000003e40"),
        (ExperimentStatusReply(experiment: experiment), "050000006669727374020100000072020000006364005000000000000005000000616c696365000000000000f83f0100000000000000400001000000000000000a000000000000000300000000000000ffffffffffffffff0200000000000000020000000100000061010000006203000000616363010ad7a3703d0aef3f02000000030000006163630ad7a3703d0aef3f010000007a000000000000f03f0200000002000000000000000101000000000000000200000003000000616363000000000000e03f040000006c6f73739a9999999999b93f010000000100000061010000000100000062000000000000e03f01010200000001000000610200000003000000616363000000000000e03f0200000066319a9999999999d93f01000000620100000003000000616363000000000000d03f03000000000000000002000000000000000000000000000000000000000000000000000000000000000000020000000100000061030000000000000000010000006306020000006e6f060000006b696c6c65642a0000000000000000000000"),
        (ExperimentModelRequest(name: "x", which: .last), "010000007802"),
        (ExperimentModelReply(name: "x", which: .best), "010000007801"),
        (CancelExperiment(name: "x"), "0100000078"),
        (EnvoyListRequest(), ""),
        (EnvoyListReply(envoys: [envoy, quietEnvoy], heartbeatPeriod: 5, slots: [EnvoySlots(capacity: 2, running: ["x"]), EnvoySlots(capacity: nil, running: nil)]),
         "020000000200000065310300000063737605000000612e6373760100000079020000001c000000000000001c00000000000000010000000100000000000000be0000000000000001000000410101000000000000e03f0100000078000000000000c042400000100000000000000000400000000000000040fc54d9410200000065320300000063737605000000612e6373760100000079020000001c000000000000001c00000000000000010000000100000000000000be000000000000000100000041000000000000010000000000000000000000000000000000000000000000000000000000000000000000000000144002000000010200000000000000010100000001000000780000"),
        (SubmitAnalytics(query: analyticsQuery), "0100000001000000780300000005000000636f756e7409000000686973746f6772616d090000007175616e74696c657301050000006c6162656c020000000000000000000000000000000000f03f01000000000000000000e03f0000000000001440"),
        (AnalyticsResultRequest(id: "q1", maximumWaitSeconds: 30), "0200000071310000000000003e40"),
        (AnalyticsResultReply(result: AnalyticsResult(id: "q1", query: analyticsQuery, submittedBy: "alice", submittedAt: 1.5, finishedAt: 2,
                                                      sites: [AnalyticsSiteOutcome(site: "a", state: .answered, withheldCells: 1)],
                                                      cells: [AnalyticsCell(column: "x", label: 1, count: 12, mean: 0.5, std: nil, histogram: [0, 12, 0],
                                                                            binsWithheldBy: [0, 0, 1], quantiles: [0.5], sites: ["a"], withheld: ["b: few"])])), "0200000071310100000001000000780300000005000000636f756e7409000000686973746f6772616d090000007175616e74696c657301050000006c6162656c020000000000000000000000000000000000f03f01000000000000000000e03f000000000000144005000000616c696365000000000000f83f01000000000000004001000000010000006108000000616e7377657265640000000001000000000000000100000001000000780101000000000000000c0000000000000001000000000000e03f000300000000000000000000000c0000000000000000000000000000000300000000000000000000000000000000000000010000000000000001000000000000000000e03f0100000001000000610100000006000000623a20666577"),
        (AnalyticsTask(id: "q1", query: analyticsQuery), "0200000071310100000001000000780300000005000000636f756e7409000000686973746f6772616d090000007175616e74696c657301050000006c6162656c020000000000000000000000000000000000f03f01000000000000000000e03f0000000000001440"),
        (AnalyticsAnswer(id: "q1", cells: [ColumnSummary(column: "x", label: 1, moments: RunningMoments(count: 2, mean: 1, m2: 0.5), histogram: [0, 2, 0],
                                                         sketch: QuantileSketch(zeroCount: 1, positive: SketchBuckets(keys: [3], counts: [1])))],
                         refusal: ""), "020000007131010000000100000078010100000000000000000000000200000000000000000000000000f03f000000000000e03f03000000000000000000000002000000000000000000000000000000000000000101000000000000000100000003000000010000000100000000000000000000000000000000000000"),
    ]
    /// Secure aggregation's messages (issue 15), and the fields the welcome and the task reply gained at their ends.
    static let secureAggregationGolden: [(any WireMessage, String)] = [
        (AggregatorWelcome(experiment: "m", roundsToTrain: 10, currentRound: 2, layout: layout, wantsFeatureStatistics: false,
                           secureAggregation: SecureAggregationOffer(threshold: 3, clipRange: 0.5, bits: 24, uniformWeights: true, stageTimeout: 60),
                           distributedPrivacy: DistributedPrivacyOffer(clipNorm: 1, noiseStandardDeviation: 0.25)), "010000006d0a000000000000000200000000000000020000000b000000636f6e762e77656967687403000000463332020000000300000000000000020000000000000001000000620300000046333201000000020000000000000000010300000000000000000000000000e03f1800000000000000010000000000004e4001000000000000f03f000000000000d03f"),
        (TaskReply(status: .run, round: 3, tasks: ["train"], reason: "", attempt: 2,
                   secureAggregation: SecureAggregationTerms(cohortSize: 5, vectorLength: 9, weightCap: 40, weightScale: 50)), "0103000000000000000100000005000000747261696e000000000200000000000000010500000000000000090000000000000028000000000000003200000000000000"),
        (SecAggKeys(round: 1, attempt: 2, encryptionKey: Array(0..<32), maskingKey: Array(32..<64), certificate: [0x30, 1], signature: [7, 8]), "0100000000000000020000000000000020000000000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20000000202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f020000003001020000000708"),
        (SecAggRoster(round: 1, attempt: 0, advertisements: [SecAggAdvertisement(site: "a", encryptionKey: Array(repeating: 1, count: 32),
                                                                                  maskingKey: Array(repeating: 2, count: 32), certificate: [3], signature: [4])]),
         "0100000000000000000000000000000001000000010000006120000000010101010101010101010101010101010101010101010101010101010101010120000000020202020202020202020202020202020202020202020202020202020202020201000000030100000004"),
        (SecAggShares(round: 1, attempt: 0, envelopes: [SecAggEnvelope(from: "a", to: "b", ciphertext: [1, 2, 3], commitment: [4, 5])]), "01000000000000000000000000000000010000000100000061010000006203000000010203020000000405"),
        (SecAggSharesReply(round: 1, attempt: 0, envelopes: [SecAggEnvelope(from: "b", to: "a", ciphertext: [6], commitment: [])]), "010000000000000000000000000000000100000001000000620100000061010000000600000000"),
        (SecAggMaskedInput(round: 1, attempt: 1, task: "train", sampleCount: 90, metrics: ["loss": 0.5], count: 7), "0100000000000000010000000000000005000000747261696e5a0000000000000001000000040000006c6f7373000000000000e03f0700000000000000"),
        (SecAggUnmask(round: 1, attempt: 1, survivors: ["a", "b"], dropped: ["c"]), "010000000000000001000000000000000200000001000000610100000062010000000100000063"),
        (SecAggReveal(round: 1, attempt: 1, shares: [SecAggRevealedShare(owner: "c", kind: 2, share: [9, 8], salt: [7])]), "01000000000000000100000000000000010000000100000063020200000009080100000007"),
    ]
    static let analyticsQuery = AnalyticsQuery(columns: ["x"], statistics: [.count, .histogram, .quantiles], groupBy: "label", histogramEdges: [0, 1],
                                               quantiles: [0.5], deadlineSeconds: 5)

    /// The bytes an Envoy sent before capacities, several collaborators and `handled` existed:
    /// they read with the defaults (capacity 1, the one experiment).
    @Test func olderEnvoysMessagesStillRead() throws {
        func bytes(_ hex: String) -> [UInt8] {
            stride(from: 0, to: hex.count, by: 2).map { UInt8(hex.dropFirst($0).prefix(2), radix: 16)! }
        }
        let registration = try #require(try MessageRegistry.decode(type: EnvoyRegistration.type.rawValue, payload: bytes(
            "0200000065310300000063737605000000612e6373760100000079020000001c000000000000001c00000000000000010000000100000000000000be0000000000000001000000410100")) as? EnvoyRegistration)
        #expect(registration.envoy == "e1" && registration.capacity == 1)
        let beat = try #require(try MessageRegistry.decode(type: EnvoyHeartbeat.type.rawValue, payload: bytes(
            "000000000000294000001000000000000000004000000000010100000078")) as? EnvoyHeartbeat)
        #expect(beat.running == ["x"])
        let ask = try #require(try MessageRegistry.decode(type: WorkRequest.type.rawValue, payload: bytes("01000000780200000000000000030000000000003e40")) as? WorkRequest)
        #expect(ask.handled == [SiteWork(experiment: "x", launch: 2, state: .exited)])
        let submission = try #require(try MessageRegistry.decode(type: SubmitExperiment.type.rawValue, payload: bytes("0100000078020000006162"))
            as? SubmitExperiment)
        #expect(submission.name == "x" && submission.envoys.isEmpty)
        // A fresh Envoy's request names nothing.
        #expect(WorkRequest(experiment: "", launch: 0, state: .idle, maximumWaitSeconds: 1).handled.isEmpty)
    }

    @Test(arguments: 0..<secureAggregationGolden.count)
    func secureAggregationMessagesEncodeToTheRecordedBytes(index: Int) throws {
        let (message, expected) = Self.secureAggregationGolden[index]
        let bytes = message.encoded()
        #expect(Self.hex(bytes) == expected, "\(type(of: message)) encodes to \(Self.hex(bytes))")
        let decoded = try MessageRegistry.decode(type: type(of: message).type.rawValue, payload: bytes)
        #expect(Self.equal(decoded, message), "\(type(of: message)) does not decode to the value encoded")
    }

    /// A welcome and a task reply from an aggregator before issue 15 read with secure aggregation
    /// off and attempt 0 (the bytes above, recorded then).
    @Test func olderAggregatorsMessagesStillRead() throws {
        let welcome = try #require(try MessageRegistry.decode(type: AggregatorWelcome.type.rawValue, payload: Self.bytes(
            "010000006d0a000000000000000200000000000000020000000b000000636f6e762e77656967687403000000463332020000000300000000000000020000000000000001000000620300000046333201000000020000000000000001")) as? AggregatorWelcome)
        #expect(welcome.wantsFeatureStatistics && welcome.secureAggregation == nil && welcome.distributedPrivacy == nil)
        let reply = try #require(try MessageRegistry.decode(type: TaskReply.type.rawValue, payload: Self.bytes(
            "0103000000000000000200000005000000747261696e0800000076616c69646174650100000078")) as? TaskReply)
        #expect(reply.tasks == ["train", "validate"] && reply.reason == "x" && reply.attempt == 0)
    }

    /// A stage message past its bounds is refused as malformed, naming the field.
    @Test func secureAggregationMessagesOutsideTheirBoundsAreRefused() throws {
        let cases: [(any WireMessage, String)] = [
            (SecAggKeys(round: 1, attempt: 0, encryptionKey: Array(repeating: 1, count: 31), maskingKey: Array(repeating: 1, count: 32),
                        certificate: [], signature: []), "encryptionKey"),
            (SecAggKeys(round: 1, attempt: -1, encryptionKey: Array(repeating: 1, count: 32), maskingKey: Array(repeating: 1, count: 32),
                        certificate: [], signature: []), "attempt"),
            (SecAggKeys(round: 1, attempt: 0, encryptionKey: Array(repeating: 1, count: 32), maskingKey: Array(repeating: 1, count: 32),
                        certificate: Array(repeating: 0, count: 16385), signature: []), "certificate"),
            (TaskReply(status: .run, round: 1, secureAggregation: SecureAggregationTerms(cohortSize: 3, vectorLength: 5, weightCap: 3, weightScale: 2)),
             "secureAggregation.weightCap"),
            (SecAggShares(round: 1, attempt: 0, envelopes: [SecAggEnvelope(from: "a", to: "b", ciphertext: Array(repeating: 0, count: 4097), commitment: [])]),
             "envelopes[0].ciphertext"),
            (SecAggMaskedInput(round: 1, attempt: 0, task: "t", sampleCount: 1, metrics: [:], count: -1), "count"),
            (SecAggReveal(round: 1, attempt: 0, shares: [SecAggRevealedShare(owner: "a", kind: 3, share: [], salt: [])]), "shares[0].kind"),
        ]
        for (message, field) in cases {
            do {
                _ = try MessageRegistry.decode(type: type(of: message).type.rawValue, payload: message.encoded())
                Issue.record("\(type(of: message)) with a bad \(field) was decoded")
            } catch let error as WireDecodingError {
                #expect(error.field == field, "\(error)")
            }
        }
    }

    static func bytes(_ hex: String) -> [UInt8] {
        stride(from: 0, to: hex.count, by: 2).map { UInt8(hex.dropFirst($0).prefix(2), radix: 16)! }
    }

    /// The Envoy list as a Director sent it before it told capacities: it reads with no slots (not known).
    @Test func anOlderDirectorsEnvoyListStillReads() throws {
        let bytes = stride(from: 0, to: Self.olderEnvoyList.count, by: 2).map { UInt8(Self.olderEnvoyList.dropFirst($0).prefix(2), radix: 16)! }
        let list = try #require(try MessageRegistry.decode(type: EnvoyListReply.type.rawValue, payload: bytes) as? EnvoyListReply)
        #expect(list.envoys == [Self.envoy, Self.quietEnvoy] && list.heartbeatPeriod == 5)
        #expect(list.slots.isEmpty && list.slots(of: 0) == nil)
    }

    static let olderEnvoyList = "020000000200000065310300000063737605000000612e6373760100000079020000001c000000000000001c00000000000000010000000100000000000000be0000000000000001000000410101000000000000e03f0100000078000000000000c042400000100000000000000000400000000000000040fc54d9410200000065320300000063737605000000612e6373760100000079020000001c000000000000001c00000000000000010000000100000000000000be0000000000000001000000410000000000000100000000000000000000000000000000000000000000000000000000000000000000000000001440"

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test func everyMessageTypeHasAGoldenValue() {
        let covered = Set((Self.golden + Self.secureAggregationGolden).map { ObjectIdentifier(type(of: $0.0)) })
        for type in MessageRegistry.all {
            #expect(covered.contains(ObjectIdentifier(type)), "no golden value for \(type)")
        }
    }

    @Test(arguments: 0..<golden.count)
    func encodesToTheRecordedBytes(index: Int) throws {
        let (message, expected) = Self.golden[index]
        let bytes = message.encoded()
        #expect(Self.hex(bytes) == expected, "\(type(of: message)) encodes to \(Self.hex(bytes))")
        let decoded = try MessageRegistry.decode(type: type(of: message).type.rawValue, payload: bytes)
        #expect(decoded.encoded() == bytes)
        #expect(Self.equal(decoded, message), "\(type(of: message)) does not decode to the value encoded")
    }

    /// Compares two messages by their fields (messages are not Equatable).
    static func equal(_ a: any WireMessage, _ b: any WireMessage) -> Bool {
        type(of: a) == type(of: b) && canonical(a) == canonical(b)
    }

    /// Every stored field, recursively, with dictionary entries sorted so equal maps read alike.
    static func canonical(_ value: Any) -> String {
        let mirror = Mirror(reflecting: value)
        if mirror.children.isEmpty && mirror.displayStyle != .collection && mirror.displayStyle != .dictionary { return "\(value)" }
        var parts = mirror.children.map { "\($0.label ?? ""):\(canonical($0.value))" }
        if mirror.displayStyle == .dictionary { parts.sort() }
        return "\(mirror.subjectType)(" + parts.joined(separator: ",") + ")"
    }
}
