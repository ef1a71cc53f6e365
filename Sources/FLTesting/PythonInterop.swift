import Foundation
import FLCore

/// Python for interop tests and benchmarks: finds `python3`, checks that numpy imports, unpacks the
/// `safetensors` wheel kept in `Tests/Interop/` (a wheel is a zip: no network, no pip), and runs
/// scripts with a deadline.
///
/// Tests that need Python fail with a message saying what to install, unless `SWIFTFL_SKIP_PYTHON=1`,
/// which disables them visibly (`@Test(.disabled(if: PythonInterop.skipped, …))`).
public enum PythonInterop {
    /// Set `SWIFTFL_SKIP_PYTHON=1` to run without Python; tests that need it are then reported as skipped.
    public static let skipped = ProcessInfo.processInfo.environment["SWIFTFL_SKIP_PYTHON"] == "1"

    /// The repository (found from this source file's place in it).
    public static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// Python-side files used by tests (the safetensors wheel, helper scripts).
    public static var interopDirectory: String { "\(repositoryRoot)/Tests/Interop" }

    /// The safetensors wheel (pure data to us: it is unzipped, never installed).
    public static var safetensorsWheel: String { "\(interopDirectory)/safetensors-0.8.0-cp310-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl" }

    /// What went wrong running Python, in words that say how to fix it.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    /// The output of a finished script.
    public struct Output: Sendable {
        public var status: ChildProcess.Status
        public var standardOutput: String
        public var standardError: String
    }

    /// `python3` on PATH.
    public static func python3() throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/python3"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw Failure("python3 is not on PATH; interop tests need python3 with numpy (apt install python3-numpy, or pip install numpy). "
                      + "Set SWIFTFL_SKIP_PYTHON=1 to skip them")
    }

    /// Throws with install instructions unless `python3 -c "import numpy"` works.
    public static func requireNumpy() throws {
        let out = try run(["-c", "import numpy; print(numpy.__version__)"], timeout: 60)
        guard out.status.isSuccess else {
            throw Failure("numpy does not import in \(try python3()): \(out.standardError.suffix(400)). "
                          + "Install it (pip install numpy, or apt install python3-numpy), or set SWIFTFL_SKIP_PYTHON=1 to skip these tests")
        }
    }

    /// Unzips the safetensors wheel into `directory` and returns the folder to put on `PYTHONPATH`.
    public static func unpackSafetensors(into directory: String) throws -> String {
        guard FileManager.default.fileExists(atPath: safetensorsWheel) else { throw Failure("the safetensors wheel is missing: \(safetensorsWheel)") }
        let target = "\(directory)/site-packages"
        let out = try run(["-m", "zipfile", "-e", safetensorsWheel, target], timeout: 60)
        guard out.status.isSuccess else { throw Failure("cannot unzip \(safetensorsWheel): \(out.standardError)") }
        return target
    }

    /// Runs `python3 arguments…` and waits at most `timeout` seconds (then kills it and throws).
    /// Blocks the calling thread: call it from a test body, not from code holding the concurrency pool.
    public static func run(_ arguments: [String], environment extra: [String: String] = [:], workingDirectory: String? = nil,
                           timeout: Double = 120) throws -> Output {
        let scratch = try TemporaryDirectory(prefix: "swiftfl-python")
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in extra { environment[key] = value }
        let outPath = scratch.appending("stdout"), errPath = scratch.appending("stderr")
        let child = try ChildProcess(executable: python3(), arguments: arguments, environment: environment, workingDirectory: workingDirectory,
                                     standardOutput: .file(outPath), standardError: .file(errPath))
        guard let status = child.wait(timeout: timeout) else {
            child.stop(grace: 0)
            throw Failure("python3 \(arguments.prefix(3).joined(separator: " ")) ran longer than \(timeout) s and was killed")
        }
        return Output(status: status, standardOutput: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
                      standardError: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }

    /// Runs a script and returns its standard output; throws with its standard error when it fails.
    public static func check(_ arguments: [String], environment: [String: String] = [:], workingDirectory: String? = nil,
                             timeout: Double = 120) throws -> String {
        let out = try run(arguments, environment: environment, workingDirectory: workingDirectory, timeout: timeout)
        guard out.status.isSuccess else { throw Failure("python3 \(out.status):\n\(out.standardError)") }
        return out.standardOutput
    }
}
