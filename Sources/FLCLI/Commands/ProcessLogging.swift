import Foundation
import FLCore

/// Logging set-up shared by the long-running processes: readable lines on standard error and JSON
/// lines in the workspace's log file, from the level `--log-level` gives.
enum ProcessLogging {
    static let level = Option("--log-level", value: "LEVEL", help: "debug, info, warning or error (default: info).", default: .info, as: .logLevel)

    static func logger(label: String, file: String, args: ParsedArguments) throws -> Logger {
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        return Logger(label: label, sink: try JSONLinesLogSink(path: file), minimumLevel: try args.required(level))
    }
}
