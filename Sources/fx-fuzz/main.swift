// fx-fuzz: libFuzzer driver for the decoders a peer can reach.
//
//   fx-fuzz TARGET [libFuzzer flags] [CORPUS_DIR...]      (or FX_FUZZ_TARGET=TARGET fx-fuzz ...)
//
// Built by `make fuzz` with `-sanitize=fuzzer,address -DFUZZING`. A plain `swift build` has no
// libFuzzer, so the same executable only replays files: `fx-fuzz TARGET FILE|DIR...` runs each file
// through the target once and exits 1 on a finding (a trap still crashes it, with a stack trace).
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FLCore
import FLWire
import FLArchive

/// One fuzz target: a name for the command line and the library function that takes the bytes.
struct FuzzTarget: Sendable {
    var name: String
    var summary: String
    var run: @Sendable ([UInt8]) throws(FuzzFinding) -> Void
}

let targets: [FuzzTarget] = [
    FuzzTarget(name: "frame", summary: "bytes after the handshake through FrameChannel: frames, messages, streams, chunks",
               run: { (bytes: [UInt8]) throws(FuzzFinding) in try WireFuzzTargets.frames(bytes) }),
    FuzzTarget(name: "message", summary: "one control message payload through MessageRegistry.decode (byte 0 picks the type)",
               run: { (bytes: [UInt8]) throws(FuzzFinding) in try WireFuzzTargets.message(bytes) }),
    FuzzTarget(name: "plan", summary: "YAMLParser.parse (and the JSON reader) with yamlText/canonicalJSON round trips",
               run: { (bytes: [UInt8]) throws(FuzzFinding) in try PlanFuzzTarget.run(bytes) }),
    FuzzTarget(name: "archive", summary: "TarReader.entries(in:) and ArchiveExtractor.check(bytes:)",
               run: { (bytes: [UInt8]) throws(FuzzFinding) in try ArchiveFuzzTarget.archive(bytes) }),
    FuzzTarget(name: "safetensors", summary: "Safetensors.decode and SafetensorsHeader.decode, cross-checked, with an encode round trip",
               run: { (bytes: [UInt8]) throws(FuzzFinding) in try SafetensorsFuzzTarget.run(bytes) }),
    FuzzTarget(name: "http", summary: "HTTPRequestParser.parse (the dashboard's request heads), with a consumed-length cross-check",
               run: { (bytes: [UInt8]) throws(FuzzFinding) in try HTTPFuzzTarget.run(bytes) }),
]

func usage() -> Never {
    var text = "usage: fx-fuzz TARGET [libFuzzer flags] [CORPUS_DIR...]   (or FX_FUZZ_TARGET=TARGET)\ntargets:\n"
    for target in targets { text += "  \(target.name.padding(toLength: 11, withPad: " ", startingAt: 0)) \(target.summary)\n" }
    #if !FUZZING
    text += "This build has no libFuzzer (see `make fuzz`); it replays files: fx-fuzz TARGET FILE|DIR...\n"
    #endif
    FileHandle.standardError.write(Data(text.utf8))
    exit(64)
}

/// The target named by FX_FUZZ_TARGET, or else by the first argument (which is then removed from
/// the arguments, as libFuzzer would read it as a corpus directory).
func selectTarget(_ arguments: inout [String]) -> FuzzTarget {
    if let name = ProcessInfo.processInfo.environment["FX_FUZZ_TARGET"] {
        guard let target = targets.first(where: { $0.name == name }) else { usage() }
        return target
    }
    guard arguments.count > 1, let target = targets.first(where: { $0.name == arguments[1] }) else { usage() }
    arguments.remove(at: 1)
    // libFuzzer's -fork and -merge modes re-run this executable with the remaining arguments only.
    setenv("FX_FUZZ_TARGET", target.name, 1)
    return target
}

#if FUZZING

// Set once before the driver starts, read by every call of the callback; libFuzzer runs the
// callback on one thread.
nonisolated(unsafe) var selected: FuzzTarget?

/// libFuzzer's callback. A finding becomes a trap so that libFuzzer saves the input as a crash.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    do {
        try selected!.run(bytes)
    } catch {
        fatalError("\(error)")
    }
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

var arguments = CommandLine.arguments
selected = selectTarget(&arguments)
var cArguments: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
var argc = Int32(arguments.count)
let status = cArguments.withUnsafeMutableBufferPointer { buffer in
    var argv = buffer.baseAddress!
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput)
}
exit(status)

#else

/// Every regular file named, or inside a named directory (recursively), sorted.
func inputFiles(_ paths: [String]) -> [String] {
    var files: [String] = []
    for path in paths {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            FileHandle.standardError.write(Data("fx-fuzz: \(path): no such file or directory\n".utf8))
            exit(66)
        }
        if isDirectory.boolValue {
            let walker = FileManager.default.enumerator(atPath: path)
            while let relative = walker?.nextObject() as? String {
                var sub: ObjCBool = false
                let full = path + "/" + relative
                if FileManager.default.fileExists(atPath: full, isDirectory: &sub), !sub.boolValue { files.append(full) }
            }
        } else {
            files.append(path)
        }
    }
    return files.sorted()
}

var arguments = CommandLine.arguments
let target = selectTarget(&arguments)
let files = inputFiles(Array(arguments.dropFirst()))
if files.isEmpty { usage() }
var findings = 0
for file in files {
    guard let data = FileManager.default.contents(atPath: file) else {
        FileHandle.standardError.write(Data("fx-fuzz: cannot read \(file)\n".utf8))
        exit(66)
    }
    do {
        try target.run([UInt8](data))
    } catch {
        findings += 1
        print("\(file): \(error)")
    }
}
print("fx-fuzz \(target.name): \(files.count) inputs, \(findings) findings")
exit(findings == 0 ? 0 : 1)

#endif
