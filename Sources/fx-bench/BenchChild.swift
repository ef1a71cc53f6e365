#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FLCore

/// A helper process the benchmark runs (this same executable with `child <kind>`), which prints
/// `port N` once it listens and then serves until killed.
struct BenchChild {
    let process: ChildProcess
    let port: Int

    static func start(_ arguments: [String], timeout: Double = 20) throws -> BenchChild {
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let process = try ChildProcess(executable: exe, arguments: ["child"] + arguments, standardOutput: .pipe)
        var line = ""
        while !line.hasSuffix("\n") {
            let data = process.standardOutput!.availableData
            if data.isEmpty { throw BenchError("child \(arguments[0]) exited before listening") }
            line += String(decoding: data, as: UTF8.self)
        }
        guard line.hasPrefix("port "), let port = Int(line.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.kill()
            throw BenchError("child \(arguments[0]) said '\(line)'")
        }
        return BenchChild(process: process, port: port)
    }

    /// Called in the child: tells the parent the port, then parks the main thread forever.
    static func announce(port: Int) -> Never {
        FileHandle.standardOutput.write(Data("port \(port)\n".utf8))
        while true { pause() }
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
