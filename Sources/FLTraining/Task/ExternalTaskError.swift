import FLCore

/// A task the external runner could not complete: the command did not start, failed, ran out of
/// time, or returned something that is not a usable result. It carries what a person needs to fix
/// it: the command, the end of its standard error, and the task's folder (kept on failure).
public struct ExternalTaskError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The command could not be started (no such program, not executable, bad working directory).
        case cannotStart(String)
        /// The command ran longer than the plan's timeout; its process group was stopped.
        case timedOut(seconds: Double)
        /// The command exited with a non-zero status or was killed by a signal.
        case failed(ChildProcess.Status)
        /// The command exited with status 0 but did not write the file at `path`.
        case missingOutput(path: String)
        /// The file at `path` is not what the protocol asks for.
        case invalidOutput(path: String, reason: String)
        /// The runner was handed a model that is not the plan's.
        case wrongInput(String)
        /// The task folder or the request could not be written.
        case cannotPrepare(String)
    }

    /// The task's name in the plan (`initialize` for the initial model).
    public var task: String
    /// What the command was asked to do: `train`, `validate` or `initialize`.
    public var function: String
    public var round: Int
    public var collaborator: String?
    public var kind: Kind
    public var command: [String]
    /// The last bytes of the command's standard error (empty when it wrote none).
    public var stderrTail: String
    /// The task's folder (request, input and output files, stdout.txt, stderr.txt), kept for inspection.
    public var taskDirectory: String?

    public init(task: String, function: String, round: Int, collaborator: String?, kind: Kind, command: [String],
                stderrTail: String = "", taskDirectory: String? = nil) {
        self.task = task
        self.function = function
        self.round = round
        self.collaborator = collaborator
        self.kind = kind
        self.command = command
        self.stderrTail = stderrTail
        self.taskDirectory = taskDirectory
    }

    public var description: String {
        let site = collaborator.map { ", \($0)" } ?? ""
        let shown = command.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
        var text = "external task '\(task)' (\(function), round \(round)\(site)): "
        switch kind {
        case let .cannotStart(reason): text += "cannot start `\(shown)`: \(reason)"
        case let .timedOut(seconds): text += "`\(shown)` ran longer than the \(Self.seconds(seconds)) timeout (task_runner.settings.timeout); its process group was stopped"
        case let .failed(status): text += "`\(shown)` \(status)"
        case let .missingOutput(path): text += "`\(shown)` exited with status 0 but wrote no \(path)"
        case let .invalidOutput(path, reason): text += "`\(shown)` wrote an unusable \(path): \(reason)"
        case let .wrongInput(reason): text += reason
        case let .cannotPrepare(reason): text += "cannot prepare the task: \(reason)"
        }
        if let taskDirectory { text += "\n  task folder (kept): \(taskDirectory)" }
        let tail = stderrTail.trimmingSuffixWhitespace
        if !tail.isEmpty {
            text += "\n  standard error (end):\n" + tail.split(separator: "\n", omittingEmptySubsequences: false).map { "    \($0)" }.joined(separator: "\n")
        }
        return text
    }

    private static func seconds(_ s: Double) -> String { s == s.rounded() ? "\(Int(s)) s" : "\(s) s" }
}

extension String {
    fileprivate var trimmingSuffixWhitespace: String {
        var s = Substring(self)
        while let last = s.last, last.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
