import Foundation
import FLCore
import FLWire

// Temporary driver: stream throughput with certificates from /tmp/pki.
let args = CommandLine.arguments
if args.count > 1 && args[1] == "child-sink" {
    let server = try FrameServer(configuration: ServerConfiguration(tls: TLSConfiguration(certificateDirectory: "/tmp/pki", name: "server"), limits: FrameLimits(maximumStreamSize: 1 << 40)),
                                 handler: StreamSink(), logger: Logger(label: "sink"))
    print(server.port)
    FileHandle.standardOutput.synchronizeFile()
    while true { sleep(1000) }
}
let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
let child = try ChildProcess(executable: exe, arguments: ["child-sink"], standardOutput: .pipe)
let line = String(decoding: child.standardOutput!.availableData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
let port = Int(line)!
let size = 256 << 20
let path = "/tmp/stream-bench.bin"
if (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) != size {
    var data = [UInt8](repeating: 0, count: size)
    for i in stride(from: 0, to: size, by: 4096) { data[i] = UInt8(i & 255) }
    _ = FileManager.default.createFile(atPath: path, contents: Data(data))
}
let client = try FrameClient.connect(host: "127.0.0.1", port: port, context: TLSContext(TLSConfiguration(certificateDirectory: "/tmp/pki", name: "client"), side: .client),
                                     limits: FrameLimits(chunkSize: Int(ProcessInfo.processInfo.environment["CHUNK"] ?? "1048576")!))
let layout = try ModelLayout([TensorSpec(name: "t", shape: [size / 4])])
for _ in 0..<3 {
    let source = try FileRegionSource(path: path)
    let t0 = Deadline.now
    let reply = try client.call(TaskResultMessage(round: 0, task: "x", sampleCount: 1, metrics: [:], layout: layout), stream: source, timeout: 60) as! TaskReply
    let s = Double(Deadline.now.uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9
    print("sent \(size) in \(s) s = \(Double(size) / s / 1e9) GB/s; receiver \(reply.tasks[0]) s rss \(Int(reply.tasks[1])! >> 20) MiB; sender rss \(ResourceUsage.peakResidentBytes() >> 20) MiB; cipher \(client.cipherSuite)")
}
child.kill()
