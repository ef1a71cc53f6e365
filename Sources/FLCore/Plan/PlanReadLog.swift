import Synchronization

/// The settings read through `PlanAccessible` while `record` runs, so a test can hold what the code
/// reads against what the defaults files declare (the plan schema: a setting the code reads but the
/// defaults lack would be refused as unknown in every plan that writes it).
///
/// Recording is scoped to the task (and the synchronous calls) inside `record`, so tests running at
/// the same time do not see each other's reads; outside it a read costs one task-local lookup.
public final class PlanReadLog: Sendable {
    /// One read: the file named in the reader's errors and the dotted path asked for (numeric
    /// components index sequences).
    public struct Read: Sendable, Hashable {
        public var file: String
        public var path: String

        public init(file: String, path: String) {
            self.file = file
            self.path = path
        }
    }

    @TaskLocal static var current: PlanReadLog?

    private let reads = Mutex<Set<Read>>([])

    private init() {}

    /// Runs `body` and returns every setting it read, whether present in the plan or not.
    public static func record(_ body: () throws -> Void) rethrows -> Set<Read> {
        let log = PlanReadLog()
        try $current.withValue(log) { try body() }
        return log.reads.withLock { $0 }
    }

    /// Records a read when a log is recording; the arguments are built only then.
    static func note(file: @autoclosure () -> String, path: @autoclosure () -> String) {
        guard let log = current else { return }
        let read = Read(file: file(), path: path())
        log.reads.withLock { _ = $0.insert(read) }
    }
}
