#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// What a command may touch besides its arguments: where it prints, the environment, and where
/// the installation's templates live. Tests substitute a capturing console.
public struct CommandContext: Sendable {
    public var console: Console
    public var environment: [String: String]
    public var currentDirectory: String

    public init(console: Console = .standard, environment: [String: String] = ProcessInfo.processInfo.environment,
                currentDirectory: String = FileManager.default.currentDirectoryPath) {
        self.console = console
        self.environment = environment
        self.currentDirectory = currentDirectory
    }

    /// `path` made absolute against the context's current directory.
    public func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: currentDirectory, isDirectory: true)).standardizedFileURL.path
    }
}

/// Where a command's output goes: results on standard output, diagnostics on standard error.
public struct Console: Sendable {
    public let write: @Sendable (_ text: String, _ isError: Bool) -> Void

    public init(write: @escaping @Sendable (_ text: String, _ isError: Bool) -> Void) { self.write = write }

    /// Prints a line of output.
    public func print(_ line: String) { write(line.hasSuffix("\n") ? line : line + "\n", false) }
    /// Prints a line of diagnostics.
    public func error(_ line: String) { write(line.hasSuffix("\n") ? line : line + "\n", true) }

    /// The process's standard output and error, unbuffered so progress lines appear at once.
    public static let standard = Console { text, isError in
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(isError ? 2 : 1, raw.baseAddress! + offset, raw.count - offset)
                if n <= 0 { if errno == EINTR { continue } else { return } }
                offset += n
            }
        }
    }

    /// Collects everything in memory; for tests.
    public static func capturing() -> (Console, CapturedOutput) {
        let captured = CapturedOutput()
        return (Console { text, isError in captured.append(text, isError: isError) }, captured)
    }
}

/// Text a capturing console received.
public final class CapturedOutput: Sendable {
    private let state = Mutex<(out: String, err: String)>(("", ""))
    func append(_ text: String, isError: Bool) { state.withLock { if isError { $0.err += text } else { $0.out += text } } }
    public var standardOutput: String { state.withLock { $0.out } }
    public var standardError: String { state.withLock { $0.err } }
}
