import Foundation
import FLCore
import FLWire
import FLPKI

/// The collaborators of one experiment as the Director admitted them, each with the number of rows
/// its site registered: what `fx-aggregator --participants FILE` reads. The names replace the plan's
/// `cols.yaml` (in this order) and the counts cap the weight of each collaborator's results, so a
/// site cannot outweigh the others by claiming more samples than it has.
///
/// The file is JSON; keys other than these are ignored:
/// ```json
/// {"participants": [{"name": "hospital_a", "sample_count": 190}, {"name": "hospital_b", "sample_count": 150}]}
/// ```
/// A list is valid when it names at least one participant, every name is a certificate name and
/// appears once, and every `sample_count` is a whole number of at least 1.
public struct ParticipantList: Sendable, Hashable {
    /// One admitted collaborator.
    public struct Participant: Sendable, Hashable {
        /// The collaborator's certificate name.
        public var name: String
        /// Rows its site registered: the most its results may weigh.
        public var sampleCount: Int

        public init(name: String, sampleCount: Int) {
            self.name = name
            self.sampleCount = sampleCount
        }
    }

    public var participants: [Participant]

    public init(participants: [Participant]) {
        self.participants = participants
    }

    /// The collaborators, in the list's order.
    public var names: [String] { participants.map(\.name) }

    /// Collaborator → its registered row count, for `AggregatorSettings.sampleCaps`.
    public var sampleCaps: [String: Int] {
        Dictionary(participants.map { ($0.name, $0.sampleCount) }, uniquingKeysWith: { first, _ in first })
    }

    /// Reads and checks the list in `path`.
    /// - Throws: `ParticipantListError` naming the file and the field that is missing or wrong.
    public static func read(from path: String) throws(ParticipantListError) -> ParticipantList {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ParticipantListError(file: path, field: nil, message: "cannot read the participant list: \(error.localizedDescription)")
        }
        return try decode(data, file: path)
    }

    /// Parses and checks a list; `file` names it in errors.
    public static func decode(_ data: Data, file: String) throws(ParticipantListError) -> ParticipantList {
        let list: ParticipantList
        do {
            list = try JSONCoding.decoder().decode(FileFormat.self, from: data).list
        } catch let error as DecodingError {
            throw ParticipantListError(file: file, decoding: error)
        } catch {
            throw ParticipantListError(file: file, field: nil, message: "expected a JSON object with a participants list: \(error)")
        }
        try list.validate(file: file)
        return list
    }

    /// Checks the list as `read` does; `file` names it in errors.
    public func validate(file: String) throws(ParticipantListError) {
        guard !participants.isEmpty else {
            throw ParticipantListError(file: file, field: "participants", message: "expected at least one participant")
        }
        var seen: Set<String> = []
        for (i, p) in participants.enumerated() {
            do { try PKI.validate(name: p.name) } catch {
                throw ParticipantListError(file: file, field: "participants[\(i)].name", message: "expected a certificate name: \(error)")
            }
            guard seen.insert(p.name).inserted else {
                throw ParticipantListError(file: file, field: "participants[\(i)].name", message: "'\(p.name)' is listed twice")
            }
            guard p.sampleCount >= 1 else {
                throw ParticipantListError(file: file, field: "participants[\(i)].sample_count",
                                           message: "expected a whole number of rows, at least 1, found \(p.sampleCount)")
            }
        }
    }

    /// The list as the file holds it (pretty-printed JSON, keys sorted).
    public func encoded() -> Data {
        // Only strings and integers: encoding cannot fail.
        return (try? JSONCoding.encoder(.pretty).encode(FileFormat(self))) ?? Data()
    }

    /// Checks the list, then writes it to `path` atomically (a reader sees the old file or the new one).
    /// - Throws: `ParticipantListError` for an invalid list, `FileError` when it cannot be written.
    public func write(to path: String) throws {
        try validate(file: path)
        try AtomicFile.write(encoded(), to: path)
    }

    /// The JSON shape of the file.
    private struct FileFormat: Codable {
        struct Entry: Codable {
            var name: String
            var sample_count: Int

            init(name: String, sample_count: Int) {
                self.name = name
                self.sample_count = sample_count
            }

            init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                name = try c.decode(String.self, forKey: .name)
                if let whole = try? c.decode(Int.self, forKey: .sample_count) {
                    sample_count = whole
                } else if let number = try? c.decode(Double.self, forKey: .sample_count) {
                    // Foundation reports a fraction read as Int as corrupt data with no field; name the field.
                    throw DecodingError.typeMismatch(Int.self, .init(codingPath: c.codingPath + [CodingKeys.sample_count],
                                                                     debugDescription: "found \(number)"))
                } else {
                    // Missing, null or not a number: this throws naming the field.
                    sample_count = try c.decode(Int.self, forKey: .sample_count)
                }
            }
        }
        var participants: [Entry]

        init(_ list: ParticipantList) {
            participants = list.participants.map { Entry(name: $0.name, sample_count: $0.sampleCount) }
        }

        var list: ParticipantList {
            ParticipantList(participants: participants.map { Participant(name: $0.name, sampleCount: $0.sample_count) })
        }
    }
}

/// A participant list that cannot be read or is not valid: the file, the field (e.g.
/// `participants[2].sample_count`; nil for the file as a whole) and what was expected.
public struct ParticipantListError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var field: String?
    public var message: String

    public init(file: String, field: String?, message: String) {
        self.file = file
        self.field = field
        self.message = message
    }

    /// Names the field a JSON decoding error is about and says what it should have been.
    init(file: String, decoding error: DecodingError) {
        func path(_ keys: [any CodingKey]) -> String {
            var text = ""
            for key in keys {
                if let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
            }
            return text
        }
        func expected(_ keys: [any CodingKey]) -> String {
            switch keys.last?.stringValue {
            case "participants": "expected a list of {\"name\": …, \"sample_count\": …} objects"
            case "name": "expected a collaborator's certificate name (a string)"
            case "sample_count": "expected a whole number of rows, at least 1"
            default: keys.last?.intValue != nil ? "expected an object with name and sample_count" : "expected a JSON object with a participants list"
            }
        }
        switch error {
        case let .keyNotFound(key, context):
            let keys = context.codingPath + [key]
            self.init(file: file, field: path(keys), message: "missing; \(expected(keys))")
        case let .typeMismatch(_, context), let .valueNotFound(_, context):
            self.init(file: file, field: path(context.codingPath).isEmpty ? nil : path(context.codingPath),
                      message: "\(expected(context.codingPath)) (\(context.debugDescription))")
        case let .dataCorrupted(context):
            if context.codingPath.isEmpty {
                let underlying = context.underlyingError.map { ": \($0)" } ?? ""
                self.init(file: file, field: nil, message: "not valid JSON (\(context.debugDescription)\(underlying))")
            } else {
                self.init(file: file, field: path(context.codingPath), message: "\(expected(context.codingPath)) (\(context.debugDescription))")
            }
        @unknown default:
            self.init(file: file, field: nil, message: "\(error)")
        }
    }

    public var description: String { "\(file): " + (field.map { "\($0): " } ?? "") + message }
}

extension AggregatorSettings {
    /// Runs the experiment with exactly the collaborators of `list`, in its order, their results'
    /// weights capped by the rows each site registered.
    public mutating func admit(_ list: ParticipantList) {
        collaborators = list.names
        sampleCaps = list.sampleCaps
    }
}
