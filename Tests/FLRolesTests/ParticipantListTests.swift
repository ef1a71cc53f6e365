import Foundation
import Testing
import FLCore
import FLRoles
import FLTesting
import FLWire

@Suite struct ParticipantListTests {
    @Test func readsTheDocumentedFormat() throws {
        let json = #"{"participants": [{"name": "hospital_a", "sample_count": 190}, {"name": "hospital_b", "sample_count": 150, "site": "ignored"}]}"#
        let list = try ParticipantList.decode(Data(json.utf8), file: "participants.json")
        #expect(list == ParticipantList(participants: [.init(name: "hospital_a", sampleCount: 190), .init(name: "hospital_b", sampleCount: 150)]))
        #expect(list.names == ["hospital_a", "hospital_b"])
        #expect(list.sampleCaps == ["hospital_a": 190, "hospital_b": 150])
    }

    @Test func writesAtomicallyWhatItReads() throws {
        let directory = try TemporaryDirectory()
        let path = directory.appending("participants.json")
        let list = ParticipantList(participants: [.init(name: "site_b", sampleCount: 7), .init(name: "site_a", sampleCount: 1_000)])
        try list.write(to: path)
        try list.write(to: path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["participants.json"])
        #expect(try ParticipantList.read(from: path) == list)  // order kept
        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        let entries = try #require(object["participants"] as? [[String: Any]])
        #expect(entries.map { $0["name"] as? String } == ["site_b", "site_a"])
        #expect(entries.map { $0["sample_count"] as? Int } == [7, 1_000])
    }

    @Test func refusesToWriteAnInvalidList() throws {
        let directory = try TemporaryDirectory()
        let path = directory.appending("participants.json")
        let error = try #require(throws: ParticipantListError.self) {
            try ParticipantList(participants: [.init(name: "site_a", sampleCount: 0)]).write(to: path)
        }
        #expect(error.field == "participants[0].sample_count")
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    /// Every way a file can be wrong names the file, the field and what was expected.
    @Test(arguments: [
        ("not json", nil, "not valid JSON"),
        ("[]", nil, "expected a JSON object"),
        ("{}", "participants", "missing; expected a list"),
        (#"{"participants": {"name": "a"}}"#, "participants", "expected a list"),
        (#"{"participants": []}"#, "participants", "at least one participant"),
        (#"{"participants": [{"name": "a", "sample_count": 1}, {"sample_count": 3}]}"#, "participants[1].name", "missing"),
        (#"{"participants": [{"name": "a"}]}"#, "participants[0].sample_count", "missing; expected a whole number"),
        (#"{"participants": [{"name": "a", "sample_count": "190"}]}"#, "participants[0].sample_count", "expected a whole number"),
        (#"{"participants": [{"name": "a", "sample_count": 1.5}]}"#, "participants[0].sample_count", "expected a whole number"),
        (#"{"participants": [{"name": "a", "sample_count": null}]}"#, "participants[0].sample_count", "expected a whole number"),
        (#"{"participants": [{"name": "a", "sample_count": 0}]}"#, "participants[0].sample_count", "at least 1, found 0"),
        (#"{"participants": [{"name": "a", "sample_count": -5}]}"#, "participants[0].sample_count", "at least 1, found -5"),
        (#"{"participants": [{"name": 7, "sample_count": 1}]}"#, "participants[0].name", "certificate name"),
        (#"{"participants": [{"name": "../a", "sample_count": 1}]}"#, "participants[0].name", "expected a certificate name"),
        (#"{"participants": [{"name": "a", "sample_count": 1}, {"name": "a", "sample_count": 2}]}"#, "participants[1].name", "listed twice"),
    ] as [(String, String?, String)])
    func aMalformedFileIsATypedErrorNamingTheField(json: String, field: String?, message: String) throws {
        let error = try #require(throws: ParticipantListError.self) { _ = try ParticipantList.decode(Data(json.utf8), file: "/x/participants.json") }
        #expect(error.file == "/x/participants.json")
        #expect(error.field == field, "\(error)")
        #expect(error.message.contains(message), "\(error)")
        #expect("\(error)".hasPrefix("/x/participants.json: " + (field.map { "\($0): " } ?? "")))
    }

    @Test func aMissingFileIsATypedErrorNamingIt() throws {
        let directory = try TemporaryDirectory()
        let path = directory.appending("absent.json")
        let error = try #require(throws: ParticipantListError.self) { _ = try ParticipantList.read(from: path) }
        #expect(error.file == path && error.field == nil && error.message.contains("cannot read"), "\(error)")
    }

    @Test func admittingAListReplacesTheCollaboratorsAndSetsTheCaps() throws {
        let directory = try TemporaryDirectory()
        var settings = AggregatorSettings(
            experiment: "x", roundsToTrain: 1, collaborators: ["a", "b", "c"], tasks: [:], taskGroups: [], bestMetric: "v/accuracy",
            paths: AggregatorPaths(initialModel: "", bestModel: "", lastModel: "", checkpointDirectory: "", metricsLog: ""),
            server: ServerConfiguration(tls: TLSConfiguration(certificateDirectory: directory.path, name: "aggregator")))
        settings.admit(ParticipantList(participants: [.init(name: "c", sampleCount: 3), .init(name: "a", sampleCount: 1)]))
        #expect(settings.collaborators == ["c", "a"])
        #expect(settings.sampleCaps == ["c": 3, "a": 1])
    }
}
