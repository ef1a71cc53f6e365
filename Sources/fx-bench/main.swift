import Foundation
import FLCore
import FLWire
import FLPKI

// `make bench` runs this (release build): every figure the issues ask for, as a table on standard
// output and as JSON (`--output FILE`). `--only a,b` runs some of them.
OpenSSLRuntime.prepare()
ProcessSetup.prepare()
let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "child" {
    let kind = arguments.count > 1 ? arguments[1] : ""
    let rest = Array(arguments.dropFirst(2))
    switch kind {
    case "stream-sink": try StreamBenchmark.sink(rest)
    case "director": try DirectorBenchmark.directorChild(rest)
    case "envoys": try SimulatedEnvoys.child(rest)
    case "heartbeat-server": try HeartbeatServer.child(rest)
    default: fatalError("unknown bench child '\(kind)'")
    }
}

var output: String?
var only: Set<String>?
var i = 0
while i < arguments.count {
    switch arguments[i] {
    case "--output": i += 1; output = arguments[i]
    case "--only": i += 1; only = Set(arguments[i].split(separator: ",").map(String.init))
    case "-h", "--help":
        print("USAGE: fx-bench [--output FILE] [--only stream,rounds,aggregation,external,director,concurrency,concurrency-cpu,flood,quality,algorithms,journal,analytics,secure]")
        exit(0)
    default:
        FileHandle.standardError.write(Data("fx-bench: unknown argument '\(arguments[i])'\n".utf8))
        exit(64)
    }
    i += 1
}

let benchmarks: [(String, (BenchmarkReport) throws -> Void)] = [
    ("stream", StreamBenchmark.run),
    ("rounds", RoundBenchmark.run),
    ("aggregation", AggregationBenchmark.run),
    ("external", ExternalRunnerBenchmark.run),
    ("director", DirectorBenchmark.run),
    ("concurrency", ConcurrencyBenchmark.run),
    ("concurrency-cpu", ConcurrencyBenchmark.runCPUBound),
    ("flood", FloodBenchmark.run),
    ("quality", QualityBenchmark.run),
    ("algorithms", AlgorithmBenchmark.run),
    ("journal", JournalBenchmark.run),
    ("analytics", AnalyticsBenchmark.run),
    ("secure", SecureAggregationBenchmark.run),
]
let report = BenchmarkReport()
print(BenchmarkReport.header)
var failed = false
for (name, run) in benchmarks where only?.contains(name) ?? true {
    do {
        try run(report)
    } catch {
        failed = true
        FileHandle.standardError.write(Data("fx-bench: \(name) failed: \(error)\n".utf8))
    }
}
if let output { try report.write(to: output) }
exit(failed ? 1 : 0)
