import Foundation
import Testing
import FLWire

/// The Director protocol's messages: each decodes to what was encoded, through the registry
/// (which also checks that no two messages share a frame type), and refuses damaged payloads.
@Suite struct DirectorMessagesTests {
    static let shard = ShardDescriptor(path: "data/a.csv", labelColumn: "label", sampleShape: [28, 28], targetShape: [1], sampleCount: 190,
                                       description: "hospital A")
    static let experiment = ExperimentInfo(
        name: "first", status: .running, reason: "", archiveSHA256: String(repeating: "cd", count: 32), archiveSize: 20480, submittedBy: "alice",
        submittedAt: 1_700_000_000.5, startedAt: 1_700_000_001, finishedAt: nil, queuePosition: 0, roundsToTrain: 10, roundsCompleted: 3,
        currentRound: 3, launches: 2, collaborators: ["hospital_a", "hospital_b"], bestMetric: "aggregated_model_validation/accuracy",
        bestValue: 0.97, lastMetrics: ["aggregated_model_validation/accuracy": 0.97, "train/loss": 0.1],
        rounds: [RoundInfo(round: 2, finalValidation: false, attempt: 1, metrics: ["train/loss": 0.1], reported: ["hospital_a"],
                           missing: ["hospital_b"], duration: 0.5, best: true)],
        sites: [SiteInfo(envoy: "hospital_a", state: .running), SiteInfo(envoy: "hospital_c", state: .refused, reason: "not approved")],
        version: 42)
    static let envoy = EnvoyInfo(name: "hospital_a", shard: shard, online: true, lastHeartbeatAge: 0.4, currentExperiment: "first",
                                 collaboratorRunning: true, cpuPercent: 37.5, residentBytes: 50 << 20, availableBytes: 8 << 30, registeredAt: 1_700_000_000)

    /// Encodes, decodes through the registry, and re-encodes: the bytes must be the same.
    /// `grownBy`: the bytes of fields added at the message's end, without which it is what an
    /// older peer sends (and reads, with their defaults).
    private func roundTrip<M: WireMessage>(_ message: M, grownBy: Int = 0) throws -> M {
        let bytes = message.encoded()
        let decoded = try #require(try MessageRegistry.decode(type: M.type.rawValue, payload: bytes) as? M)
        #expect(decoded.encoded() == bytes, "\(M.self) does not re-encode to the same bytes")
        // Every truncation is refused rather than misread, but where an older peer's message ends.
        if grownBy > 0 { #expect(throws: Never.self) { _ = try M.decode(Array(bytes[..<(bytes.count - grownBy)])) } }
        for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 17)) where cut != bytes.count - grownBy {
            #expect(throws: (any Error).self, "\(M.self) cut at \(cut)") { _ = try M.decode(Array(bytes[..<cut])) }
        }
        return decoded
    }

    @Test func everyMessageSurvivesTheWire() throws {
        let registration = try roundTrip(EnvoyRegistration(envoy: "hospital_a", shard: Self.shard, capacity: 3), grownBy: 8)
        #expect(registration.capacity == 3)
        #expect(registration.shard == Self.shard && registration.version == EnvoyRegistration.protocolVersion)
        #expect(try roundTrip(EnvoyWelcome(heartbeatPeriod: 0.2, sampleShape: [30], targetShape: [1])).heartbeatPeriod == 0.2)
        let beat = try roundTrip(EnvoyHeartbeat(cpuPercent: 12.5, residentBytes: 1 << 20, availableBytes: 1 << 30, collaboratorRunning: true,
                                                experiment: "x"), grownBy: 9)
        #expect(beat.running == ["x"])
        #expect(beat.collaboratorRunning && beat.experiment == "x" && beat.availableBytes == 1 << 30)
        let ask = try roundTrip(WorkRequest(experiment: "x", launch: 2, state: .running, maximumWaitSeconds: 30), grownBy: 18)
        #expect(ask.handled == [SiteWork(experiment: "x", launch: 2, state: .running)])
        #expect(ask.state == .running && ask.launch == 2)
        let run = try roundTrip(WorkAssignment(action: .run, experiment: "x", launch: 2, archiveSHA256: "ab", archiveSize: 9, aggregatorHost: "10.0.0.1",
                                               aggregatorPort: 50051, aggregatorName: "aggregator", collaborators: ["a", "b"], reason: ""))
        #expect(run.action == .run && run.aggregatorPort == 50051 && run.collaborators == ["a", "b"])
        #expect(try roundTrip(ArchiveRequest(experiment: "x")).experiment == "x")
        #expect(try roundTrip(ArchiveReply(experiment: "x", sha256: "ab")).sha256 == "ab")
        let report = try roundTrip(SiteReport(experiment: "x", launch: 1, event: .collaboratorExited, reason: "boom", exitStatus: "exited with status 1"))
        #expect(report.event == .collaboratorExited && !report.succeeded && report.exitStatus == "exited with status 1")
        let submission = try roundTrip(SubmitExperiment(name: "x", sha256: "ab", envoys: ["hospital_a", "hospital_b"]), grownBy: 4 + 2 * (4 + 10))
        #expect(submission.name == "x" && submission.envoys == ["hospital_a", "hospital_b"])
        _ = try roundTrip(ExperimentListRequest())
        #expect(try roundTrip(ExperimentListReply(experiments: [Self.experiment, Self.experiment])).experiments == [Self.experiment, Self.experiment])
        let watch = try roundTrip(ExperimentStatusRequest(name: "x", afterVersion: 41, maximumWaitSeconds: 30))
        #expect(watch.afterVersion == 41 && watch.maximumWaitSeconds == 30)
        #expect(try roundTrip(ExperimentStatusReply(experiment: Self.experiment)).experiment == Self.experiment)
        #expect(try roundTrip(ExperimentModelRequest(name: "x", which: .last)).which == .last)
        #expect(try roundTrip(ExperimentModelReply(name: "x", which: .best)).which == .best)
        #expect(try roundTrip(CancelExperiment(name: "x")).name == "x")
        _ = try roundTrip(EnvoyListRequest())
        // Slots: a list of one (4), a capacity (1 + 8), and the running experiments ["first"] (1 + 4 + 4 + 5).
        let slots = [EnvoySlots(capacity: 2, running: ["first"])]
        let list = try roundTrip(EnvoyListReply(envoys: [Self.envoy], heartbeatPeriod: 5, slots: slots), grownBy: 27)
        #expect(list.envoys == [Self.envoy] && list.heartbeatPeriod == 5 && list.slots == slots)
        #expect(list.slots(of: 0) == slots[0] && list.slots(of: 1) == nil)
        let unknown = try roundTrip(EnvoyListReply(envoys: [Self.envoy], heartbeatPeriod: 5, slots: [EnvoySlots(capacity: nil, running: nil)]),
                                    grownBy: 4 + 1 + 1)
        #expect(unknown.slots == [EnvoySlots(capacity: nil, running: nil)])
    }

    @Test func impossibleValuesAreRefused() throws {
        // A shape with no dimensions, or a zero one.
        var empty = Self.shard
        empty.sampleShape = []
        #expect(throws: WireDecodingError.self) { _ = try EnvoyRegistration.decode(EnvoyRegistration(envoy: "a", shard: empty).encoded()) }
        empty.sampleShape = [0]
        #expect(throws: WireDecodingError.self) { _ = try EnvoyRegistration.decode(EnvoyRegistration(envoy: "a", shard: empty).encoded()) }
        // A capacity of no collaborators, or more than an Envoy may claim.
        for capacity in [0, -1, EnvoyRegistration.maximumCapacity + 1] {
            #expect(throws: WireDecodingError.self) {
                _ = try EnvoyRegistration.decode(EnvoyRegistration(envoy: "a", shard: Self.shard, capacity: capacity).encoded())
            }
        }
        // Slots that are not one per Envoy, or a capacity out of range.
        for slots in [[EnvoySlots(capacity: 1, running: [])], [EnvoySlots](repeating: EnvoySlots(capacity: 1, running: nil), count: 3)] {
            #expect(throws: WireDecodingError.self) {
                _ = try EnvoyListReply.decode(EnvoyListReply(envoys: [Self.envoy, Self.envoy], heartbeatPeriod: 1, slots: slots).encoded())
            }
        }
        for capacity in [0, EnvoyRegistration.maximumCapacity + 1] {
            #expect(throws: WireDecodingError.self) {
                _ = try EnvoyListReply.decode(EnvoyListReply(envoys: [Self.envoy], heartbeatPeriod: 1,
                                                             slots: [EnvoySlots(capacity: capacity, running: nil)]).encoded())
            }
        }
        // A negative or infinite wait.
        #expect(throws: WireDecodingError.self) {
            _ = try WorkRequest.decode(WorkRequest(experiment: "", launch: 0, state: .idle, maximumWaitSeconds: -1).encoded())
        }
        #expect(throws: WireDecodingError.self) { _ = try EnvoyWelcome.decode(EnvoyWelcome(heartbeatPeriod: .infinity, sampleShape: [1], targetShape: [1]).encoded()) }
        // An unknown enumeration value.
        var bytes = WorkAssignment(action: .stop).encoded()
        bytes[0] = 9
        #expect(throws: WireDecodingError.self) { _ = try WorkAssignment.decode(bytes) }
        var status = ExperimentStatusReply(experiment: Self.experiment).encoded()
        status[4 + 5] = 200  // the status byte after the name "first"
        #expect(throws: WireDecodingError.self) { _ = try ExperimentStatusReply.decode(status) }
        // A list claiming more elements than the payload could hold.
        var list = ExperimentListReply(experiments: []).encoded()
        list[3] = 0x7f
        #expect(throws: WireDecodingError.self) { _ = try ExperimentListReply.decode(list) }
    }
}
