#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FLCore
import FLPKI

/// Runs the `openssl` command-line tool, the independent judge of what our PKI writes.
enum OpenSSLCommand {
    static let path = "/usr/bin/openssl"

    struct Result {
        var status: ChildProcess.Status
        var output: String
        var errors: String
        var succeeded: Bool { status.isSuccess }
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String { "\(OpenSSLCommand.path) is missing: the PKI tests compare against the OpenSSL command-line tool (apt-get install openssl)" }
    }

    struct Hung: Error, CustomStringConvertible {
        var arguments: [String]
        var description: String { "openssl \(arguments.joined(separator: " ")) did not finish within 20 s" }
    }

    /// Runs `openssl arguments…` and returns its exit status and output; throws if it is missing or hangs.
    static func run(_ arguments: [String]) throws -> Result {
        guard access(path, X_OK) == 0 else { throw Missing() }
        let child = try ChildProcess(executable: path, arguments: arguments, standardOutput: .pipe, standardError: .pipe)
        // Outputs are a few hundred bytes, far below a pipe's buffer, so waiting before reading cannot deadlock.
        guard let status = child.wait(timeout: 20) else {
            child.kill()
            throw Hung(arguments: arguments)
        }
        let output = child.standardOutput?.readDataToEndOfFile() ?? Data()
        let errors = child.standardError?.readDataToEndOfFile() ?? Data()
        return Result(status: status, output: String(decoding: output, as: UTF8.self), errors: String(decoding: errors, as: UTF8.self))
    }
}
