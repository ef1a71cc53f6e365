import Foundation
import FLCore

/// What the Director tells a running aggregator, one JSON line each on the aggregator's standard
/// input (`fx-aggregator --commands`): the channel it already has to the child it started.
public enum AggregatorCommand: Sendable, Equatable {
    /// The site's collaborator has gone (it exited, or its Envoy went offline): the current round
    /// and later ones go on without it, unless it connects again.
    case depart(collaborator: String, reason: String)

    private struct Record: Codable {
        var command: String
        var collaborator: String?
        var reason: String?
    }

    /// The command as one line of JSON (no newline).
    public var jsonLine: String {
        let record: Record
        switch self {
        case let .depart(collaborator, reason): record = Record(command: "depart", collaborator: collaborator, reason: reason)
        }
        return (try? JSONCoding.line(record)) ?? ""
    }

    /// The command a line holds; nil for anything else.
    public init?(jsonLine line: some StringProtocol) {
        guard let record = try? JSONCoding.decoder().decode(Record.self, from: Data(line.utf8)) else { return nil }
        switch record.command {
        case "depart":
            guard let collaborator = record.collaborator else { return nil }
            self = .depart(collaborator: collaborator, reason: record.reason ?? "")
        default:
            return nil
        }
    }
}

extension Aggregator {
    /// Carries out one command.
    public func apply(_ command: AggregatorCommand) {
        switch command {
        case let .depart(collaborator, reason): depart(collaborator, reason: reason)
        }
    }

    /// Reads commands, one JSON line each, from `descriptor` (the standard input) on a thread of its
    /// own until it ends; a line that is not a command is logged and skipped.
    public func followCommands(from descriptor: Int32) {
        let thread = Thread { [self] in
            var pending = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return }
                pending.append(contentsOf: buffer[0..<n])
                while let newline = pending.firstIndex(of: 0x0A) {
                    let line = String(decoding: pending[..<newline], as: UTF8.self)
                    pending.removeSubrange(...newline)
                    if let command = AggregatorCommand(jsonLine: line) { apply(command) } else { commandRefused(line) }
                }
            }
        }
        thread.name = "aggregator-commands"
        thread.stackSize = 128 << 10
        thread.start()
    }
}
