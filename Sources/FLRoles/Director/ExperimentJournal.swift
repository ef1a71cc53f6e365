import Foundation
import FLCore
import FLWire

/// The experiments' history on disk: a snapshot written whole now and then (`experiments.json`) and
/// a journal of the records changed since (`experiments.journal`), so saving a change costs the
/// changed records, however many experiments there are.
///
/// ```
/// experiments.json      {"generation": g, "experiments": [every record, in submission order]}
///                       (a bare array, as older Directors wrote it, is generation 0)
/// experiments.journal   {"follows": g}                    the snapshot it continues
///                       {"experiment": {...}, "more": true}  one line per changed record, the whole
///                       {"experiment": {...}}                record; a save's last line has no "more"
/// ```
///
/// Replaying puts each record in place of the one of its name (or at the end, for a new name), so
/// a record journaled twice does no harm. Every step leaves the last state or the next one:
/// - an append is one `write` and `fsync` (`JSONLinesFile`); a crash inside it leaves a torn last
///   line or a save's lines without its last one, and both are dropped: the state before that save;
/// - a compaction writes the snapshot of generation g+1 atomically, then a fresh journal following
///   g+1 atomically. A crash between the two leaves a journal following g, older than the snapshot:
///   everything in it is in the snapshot, so it is ignored (the state is the same either way).
/// A journal that is not the current snapshot's, or ends torn, is never appended to: the next save
/// compacts first. So is one an append failed on (it may end in part of a line).
///
/// Not thread-safe: `DirectorStore` owns it behind a lock and uses it on its queue.
struct ExperimentJournal {
    /// The snapshot file's content.
    struct Snapshot: Codable {
        var generation: Int
        var experiments: [ExperimentInfo]
    }

    /// One line of the journal: its header (`follows`) or one changed record.
    struct Line: Codable {
        var follows: Int?
        var experiment: ExperimentInfo?
        /// More lines of the same save follow; the save counts only once its last line is there.
        var more: Bool?
    }

    /// A compaction is due once the journal holds more record lines than this many per experiment
    /// (plus `minimumLines`), or more bytes than this many snapshots (plus `minimumBytes`). Replaying
    /// on start then reads at most about 5 times the state, and the compaction's cost, one snapshot,
    /// is spread over at least 4 changes per experiment: a quarter of a record written per change.
    static let linesPerExperiment = 4
    static let minimumLines = 1000
    static let bytesPerSnapshotByte = 4
    static let minimumBytes = 4 << 20

    let snapshotPath: String
    let journalPath: String
    /// Every experiment in submission order, as the files say once the pending saves are written.
    private(set) var experiments: [ExperimentInfo] = []
    private var index: [String: Int] = [:]
    private(set) var generation = 0
    /// The record lines and the bytes in the current journal.
    private(set) var journalLines = 0
    private(set) var journalBytes = 0
    private var snapshotBytes = 0
    /// The current journal, open for appending; nil when the next save must compact first.
    private var journal: JSONLinesFile?
    private var loaded = false
    /// Bytes written to both files so far (for the benchmark and the tests: a change's cost).
    private(set) var bytesWritten = 0
    /// Compactions done so far.
    private(set) var compactions = 0

    init(snapshotPath: String, journalPath: String) {
        self.snapshotPath = snapshotPath
        self.journalPath = journalPath
    }

    // MARK: Reading

    /// Reads the snapshot and replays the journal onto it; returns every experiment.
    mutating func load() throws -> [ExperimentInfo] {
        journal = nil
        try loadSnapshot()
        journalLines = 0
        journalBytes = 0
        if FileManager.default.fileExists(atPath: journalPath) { try replay() }
        loaded = true
        return experiments
    }

    private mutating func loadSnapshot() throws {
        experiments = []
        generation = 0
        snapshotBytes = 0
        if FileManager.default.fileExists(atPath: snapshotPath) {
            do {
                let data = try Data(contentsOf: URL(fileURLWithPath: snapshotPath))
                snapshotBytes = data.count
                if data.first(where: { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }) == UInt8(ascii: "[") {
                    experiments = try JSONCoding.decoder().decode([ExperimentInfo].self, from: data)
                } else {
                    let snapshot = try JSONCoding.decoder().decode(Snapshot.self, from: data)
                    (generation, experiments) = (snapshot.generation, snapshot.experiments)
                }
            } catch {
                throw FileError(path: snapshotPath, operation: "read the Director's state", reason: "\(error)")
            }
        }
        index = [:]
        for (i, x) in experiments.enumerated() { index[x.name] = i }
    }

    /// Applies the journal's complete saves, and opens it for appending when it may be continued.
    private mutating func replay() throws {
        let (lines, torn, size) = try JSONLinesFile.contents(of: journalPath)
        func failure(_ reason: String) -> FileError { FileError(path: journalPath, operation: "read the Director's state", reason: reason) }
        guard let first = lines.first else { return }
        let decoder = JSONCoding.decoder()
        guard let follows = try? decoder.decode(Line.self, from: Data(first.utf8)).follows else {
            throw failure("the first line does not say which snapshot the journal follows")
        }
        if follows < generation { return }  // a compaction stopped before replacing it: all of it is in the snapshot
        guard follows == generation else {
            throw failure("it follows generation \(follows) of \(snapshotPath), which is generation \(generation)")
        }
        var save: [ExperimentInfo] = []
        for (number, line) in lines.enumerated().dropFirst() {
            guard let entry = try? decoder.decode(Line.self, from: Data(line.utf8)), let record = entry.experiment else {
                throw failure("line \(number + 1) is not an experiment's record")
            }
            save.append(record)
            if entry.more != true {
                apply(save)
                journalLines += save.count
                save = []
            }
        }
        journalBytes = size
        // A save cut short (its last line missing, or torn): left out, and the journal is not continued.
        if torn || !save.isEmpty { return }
        journal = try JSONLinesFile(path: journalPath, operation: "open the Director's journal")
    }

    private mutating func apply(_ records: [ExperimentInfo]) {
        for record in records {
            if let i = index[record.name] {
                experiments[i] = record
            } else {
                index[record.name] = experiments.count
                experiments.append(record)
            }
        }
    }

    // MARK: Writing

    /// Appends `records` (changed or new, in submission order for new ones) as one save, compacting
    /// first when the journal cannot be continued. Throws when nothing of the save may count.
    mutating func record(_ records: [ExperimentInfo]) throws {
        guard !records.isEmpty else { return }
        if !loaded { _ = try load() }
        if journal == nil { try compact() }
        guard let journal else { return }
        let lines = try records.indices.map { i in
            try JSONCoding.line(Line(experiment: records[i], more: i < records.count - 1 ? true : nil))
        }
        do {
            try journal.append(lines: lines)
        } catch {
            // It may end in part of a line now, which the next line would be glued to.
            self.journal = nil
            throw error
        }
        let bytes = lines.reduce(0) { $0 + $1.utf8.count + 1 }
        apply(records)
        journalLines += records.count
        journalBytes += bytes
        bytesWritten += bytes
    }

    /// Whether the journal has grown enough, against the state, to be folded into a new snapshot.
    var compactionDue: Bool {
        journalLines > Self.linesPerExperiment * experiments.count + Self.minimumLines
            || journalBytes > Self.bytesPerSnapshotByte * snapshotBytes + Self.minimumBytes
    }

    /// Writes every experiment as the snapshot of the next generation, then a fresh journal following it.
    mutating func compact() throws {
        if !loaded { _ = try load() }
        let next = generation + 1
        let snapshot = try JSONCoding.encoder(.pretty).encode(Snapshot(generation: next, experiments: experiments))
        try AtomicFile.write(snapshot, to: snapshotPath)
        // From here the journal on disk is older than the snapshot: never append to it again.
        journal = nil
        generation = next
        snapshotBytes = snapshot.count
        bytesWritten += snapshot.count
        let header = try JSONCoding.line(Line(follows: next)) + "\n"
        try AtomicFile.write(Data(header.utf8), to: journalPath)
        bytesWritten += header.utf8.count
        journalLines = 0
        journalBytes = header.utf8.count
        compactions += 1
        journal = try JSONLinesFile(path: journalPath, operation: "open the Director's journal")
    }
}
