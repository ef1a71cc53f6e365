import Foundation
import Testing
import FLCore
@testable import FLWire

/// What `WireDecoder` refuses, and how its errors name the message and the field.
@Suite struct WireDecoderTests {
    private func refusal<M: WireMessage>(_ type: M.Type, _ bytes: [UInt8]) -> WireDecodingError? {
        #expect(throws: WireDecodingError.self) { try M.decode(bytes) }
    }

    @Test func anEnumerationValueThatNamesNoCaseIsRefusedNamingMessageAndField() throws {
        var bytes = TaskReply(status: .run, round: 0).encoded()
        bytes[0] = 99
        let error = refusal(TaskReply.self, bytes)
        #expect(error?.context == "TaskReply")
        #expect(error?.field == "status")
        var choice = ExperimentModelRequest(name: "x", which: .best).encoded()
        choice[5] = 0
        #expect(refusal(ExperimentModelRequest.self, choice)?.field == "which")
    }

    @Test func aCaseIndexOutOfRangeIsRefusedWithItsPath() throws {
        let experiment = ExperimentInfo(name: "first", archiveSHA256: "", archiveSize: 0, submittedBy: "", submittedAt: 0)
        var bytes = ExperimentStatusReply(experiment: experiment).encoded()
        bytes[4 + 5] = 200  // the status byte after the name "first"
        let error = refusal(ExperimentStatusReply.self, bytes)
        #expect(error?.field == "experiment.status")
        #expect(error?.reason == "unknown value 200")
    }

    @Test func limitsAreCheckedAndNamed() {
        let round = refusal(ModelRequest.self, ModelRequest(round: 1_000_001).encoded())
        #expect(round?.description == "malformed ModelRequest: field 'round' 1000001 is outside 0...1000000")
        #expect(refusal(TaskRequest.self, TaskRequest(round: 0, maximumWaitSeconds: -1).encoded())?.field == "maximumWaitSeconds")
        #expect(refusal(WorkAssignment.self, WorkAssignment(action: .run, aggregatorPort: 70000).encoded())?.field == "aggregatorPort")
        let rows = refusal(WorkAssignment.self, WorkAssignment(action: .run, collaborators: ["a"], collaboratorRows: [1, 2]).encoded())
        #expect(rows?.reason == "2 counts for 1 collaborators")
        let sums = refusal(FeatureStatisticsReport.self, FeatureStatisticsReport(count: 1, sum: [1], sumOfSquares: []).encoded())
        #expect(sums?.field == "sumOfSquares")
        // A negative sample count has always been allowed through.
        #expect(throws: Never.self) { try TaskResultMessage.decode(TaskResultMessage(round: 0, task: "t", sampleCount: -1, metrics: [:], layout: nil).encoded()) }
    }

    @Test func aNestedValueIsCheckedWhereItStands() throws {
        var shard = ShardDescriptor(path: "a", labelColumn: "y", sampleShape: [2], targetShape: [1])
        let good = EnvoyInfo(name: "e", shard: shard, online: true, lastHeartbeatAge: nil, currentExperiment: "", collaboratorRunning: false,
                             cpuPercent: 0, residentBytes: 0, availableBytes: 0, registeredAt: 0)
        var bad = good
        shard.sampleShape = [0]
        bad.shard = shard
        let error = refusal(EnvoyListReply.self, EnvoyListReply(envoys: [good, bad], heartbeatPeriod: 1).encoded())
        #expect(error?.field == "envoys[1].shard.sampleShape")
        #expect(error?.reason == "[0] is not 1 to 8 positive dimensions")
    }

    @Test func repeatedKeysAndBadTagsAreRefused() throws {
        var w = WireWriter()
        w.int(0); w.string("t"); w.i64(1)
        w.u32(2); w.string("k"); w.f64(1); w.string("k"); w.f64(2)
        w.u8(0)
        let repeated = refusal(TaskResultMessage.self, w.bytes)
        #expect(repeated?.field == "metrics")
        #expect(repeated?.reason == "key 'k' repeats")
        var tag = TaskResultMessage(round: 0, task: "t", sampleCount: 1, metrics: [:], layout: nil).encoded()
        tag[tag.count - 1] = 2
        #expect(refusal(TaskResultMessage.self, tag)?.reason == "optional tag is 2")
    }

    @Test func aListClaimingMoreElementsThanBytesIsRefusedBeforeReadingThem() {
        var bytes = ExperimentListReply(experiments: []).encoded()
        bytes[3] = 0x7f
        let error = refusal(ExperimentListReply.self, bytes)
        #expect(error?.field == "experiments")
        #expect(error?.reason.hasPrefix("claims 2130706432 elements") == true)
    }

    @Test func anErrorCodeThisSideDoesNotKnowReadsAsAnInternalError() throws {
        var bytes = ErrorReply(.conflict, "x").encoded()
        bytes[0] = 0xEE
        let reply = try ErrorReply.decode(bytes)
        #expect(reply.code == .internalError && reply.message == "x")
    }

    /// The Director's saved state (JSON) keeps its own form: statuses by name, and rounds saved
    /// before the per-site figures existed still read.
    @Test func savedStateKeepsItsJSONForm() throws {
        let info = ExperimentInfo(name: "x", status: .running, archiveSHA256: "", archiveSize: 0, submittedBy: "", submittedAt: 0)
        let json = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(info)) as? [String: Any]
        #expect(json?["status"] as? String == "running")
        let old = #"{"round":1,"finalValidation":false,"attempt":1,"metrics":{},"reported":[],"missing":[],"duration":0,"best":false}"#
        let round = try JSONDecoder().decode(RoundInfo.self, from: Data(old.utf8))
        #expect(!round.bestValidation && round.sites.isEmpty)
    }
}
