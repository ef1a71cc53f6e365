import FLWire

/// Experiments' records waiting to be saved: the newest record of each name, in the order the names
/// were first added (so new experiments keep their submission order in the journal).
struct ExperimentChanges: Sendable {
    private(set) var records: [ExperimentInfo] = []
    private var positions: [String: Int] = [:]

    var isEmpty: Bool { records.isEmpty }

    /// Adds `newer`, each replacing a waiting record of its name.
    mutating func add(_ newer: [ExperimentInfo]) {
        for record in newer {
            if let i = positions[record.name] {
                records[i] = record
            } else {
                positions[record.name] = records.count
                records.append(record)
            }
        }
    }

    /// Puts back `older` (a save that failed) before what was added since, which stays newer.
    mutating func putBack(_ older: ExperimentChanges) {
        var merged = older
        merged.add(records)
        self = merged
    }
}
