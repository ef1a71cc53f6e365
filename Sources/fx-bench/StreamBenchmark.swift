import Foundation
import FLCore
import FLTesting
import FLWire

/// One 256 MiB tensor streamed over mutual TLS on loopback between two processes, against the same
/// stream made by a plain C program with the same OpenSSL (`StreamReference`), measured in the same
/// run; what OpenSSL's AES-256-GCM does on one core at 16 KiB blocks is reported beside, for information.
enum StreamBenchmark {
    static let size = 256 << 20

    static func run(_ report: BenchmarkReport) throws {
        let reference = try opensslSpeed(cipher: "aes-256-gcm")
        let pki = try TestPKI(commonName: "fx-bench CA")
        let server = try pki.issueIdentity(name: "sink", role: .aggregator)
        let client = try pki.issue(name: "source")
        let chunk = FrameLimits().chunkSize
        // Measured before and after ours (the best kept), so a burst of load elsewhere on the machine
        // does not flatter our figure.
        let before = try StreamReference.measure(server: server.configuration, client: client, bytes: size, chunk: chunk)
        let child = try BenchChild.start(["stream-sink", server.configuration.caCertificatePath, server.configuration.certificatePath,
                                          server.configuration.privateKeyPath])
        defer { child.process.kill() }
        let connection = try FrameClient.connect(host: "127.0.0.1", port: child.port, context: TLSContext(client, side: .client))
        defer { connection.close() }
        let layout = try ModelLayout([TensorSpec(name: "tensor", shape: [size / 4])])
        var best = 0.0, receiverPeak = 0.0, bestSenderCPU = 0.0, bestReceiverCPU = 0.0
        for _ in 0..<3 {
            let source = PatternSource(byteCount: size, chunk: chunk)
            let start = Deadline.now
            let senderCPU = ResourceUsage.cpuSeconds()
            let reply = try connection.call(TaskResultMessage(round: 0, task: "stream", sampleCount: 1, metrics: [:], layout: layout),
                                            stream: source, timeout: 120)
            let seconds = start.elapsedSeconds
            guard let m = (reply as? TaskResultMessage)?.metrics, m["bytes"] == Double(size) else {
                throw BenchError("stream sink answered \(reply)")
            }
            if Double(size) / seconds > best {
                best = Double(size) / seconds
                bestSenderCPU = ResourceUsage.cpuSeconds() - senderCPU
                bestReceiverCPU = m["cpu"] ?? 0
            }
            receiverPeak = max(receiverPeak, m["peak_rss"] ?? 0)
        }
        let senderPeak = Double(ResourceUsage.peakResidentBytes())
        let after = try StreamReference.measure(server: server.configuration, client: client, bytes: size, chunk: chunk)
        let c = max(before.bytesPerSecond, after.bytesPerSecond)
        let cSenderCPU = before.bytesPerSecond >= after.bytesPerSecond ? before.senderCPU : after.senderCPU
        let sameCipher = before.cipherSuite == connection.cipherSuite ? "" : " (the C program negotiated \(before.cipherSuite))"
        report.add(BenchmarkFigure(name: "tls_stream_256MiB_throughput", value: best / 1e9, unit: "GB/s", reference: c / 1e9,
                                   ratio: best / c, target: "ratio >= 0.9 of the same stream in C (scripts/bench/tls_stream.c)", met: best / c >= 0.9,
                                   note: "cipher \(connection.cipherSuite)\(sameCipher), \(connection.protocolVersion); best of 3; "
                                       + "C: \(String(format: "%.2f", before.bytesPerSecond / 1e9)) GB/s before, \(String(format: "%.2f", after.bytesPerSecond / 1e9)) after"))
        report.add(BenchmarkFigure(name: "tls_stream_256MiB_vs_openssl_speed", value: best / 1e9, unit: "GB/s", reference: reference / 1e9,
                                   ratio: best / reference, target: "info: against openssl speed aes-256-gcm 16KiB (one core, no I/O)", met: nil, note: nil))
        report.add(BenchmarkFigure(name: "tls_stream_256MiB_sender_cpu_vs_c", value: bestSenderCPU, unit: "s", reference: cSenderCPU,
                                   ratio: bestSenderCPU / cSenderCPU, target: "info: CPU seconds of our sending process and of the C one, each in its best stream",
                                   met: nil, note: nil))
        report.add(BenchmarkFigure(name: "tls_stream_256MiB_cpu_sender_receiver", value: bestSenderCPU, unit: "s", reference: bestReceiverCPU,
                                   ratio: nil, target: "info: CPU seconds of the sending process (value) and the receiving process (reference) in the best run",
                                   met: nil, note: nil))
        try reportCeiling(report, cipherSuite: connection.cipherSuite, reference: reference)
        let limit = Double(64 << 20 + FrameLimits().chunkSize)
        report.add(BenchmarkFigure(name: "tls_stream_receiver_peak_rss", value: receiverPeak / 1048576, unit: "MiB", reference: nil, ratio: nil,
                                   target: "< 64 MiB + one chunk (65 MiB)", met: receiverPeak < limit, note: nil))
        report.add(BenchmarkFigure(name: "tls_stream_sender_peak_rss", value: senderPeak / 1048576, unit: "MiB", reference: nil, ratio: nil,
                                   target: "< 64 MiB + one chunk (65 MiB)", met: senderPeak < limit, note: "the bench process itself is the sender"))
    }

    /// The bound on any TLS stream here (see `StreamCeiling`), for the cipher suite the stream negotiated.
    static func reportCeiling(_ report: BenchmarkReport, cipherSuite: String, reference: Double) throws {
        let cipher = cipherSuite.contains("AES_128_GCM") ? "aes-128-gcm" : cipherSuite.contains("AES_256_GCM") ? "aes-256-gcm" : "chacha20-poly1305"
        let ceiling = try StreamCeiling.measure(cipher: cipher, bytes: size, chunk: FrameLimits().chunkSize)
        report.add(BenchmarkFigure(name: "\(cipher.replacingOccurrences(of: "-", with: "_"))_16KiB_one_core", value: ceiling.cipherSpeed / 1e9, unit: "GB/s",
                                   reference: nil, ratio: nil, target: "info: openssl speed for the negotiated cipher", met: nil, note: nil))
        report.add(BenchmarkFigure(name: "tcp_loopback_256MiB_cpu_sender_receiver", value: ceiling.tcpSenderCPU, unit: "s", reference: ceiling.tcpReceiverCPU,
                                   ratio: nil, target: "info: plain TCP, no TLS, \(String(format: "%.2f", ceiling.tcpThroughput / 1e9)) GB/s",
                                   met: nil, note: nil))
        report.add(BenchmarkFigure(name: "tls_stream_256MiB_bound", value: ceiling.bound / 1e9, unit: "GB/s", reference: reference / 1e9,
                                   ratio: ceiling.bound / reference,
                                   target: "info: cipher at openssl speed + one record copy on each end + plain TCP CPU, on \(min(ceiling.cores, 2)) cores",
                                   met: nil, note: "sender alone \(String(format: "%.2f", ceiling.senderBound / 1e9)) GB/s"))
    }

    /// Bytes per second of `openssl speed -evp CIPHER` at 16 KiB blocks (one full TLS record).
    static func opensslSpeed(cipher: String) throws -> Double {
        let child = try ChildProcess(executable: "/usr/bin/openssl", arguments: ["speed", "-evp", cipher, "-bytes", "16384", "-seconds", "3"],
                                     standardOutput: .pipe, standardError: .null)
        let output = String(decoding: child.standardOutput!.readDataToEndOfFile(), as: UTF8.self)
        child.wait()
        for line in output.split(separator: "\n") where line.uppercased().hasPrefix(cipher.uppercased()) {
            if let last = line.split(separator: " ").last, last.hasSuffix("k"), let k = Double(last.dropLast()) { return k * 1000 }
        }
        throw BenchError("cannot read `openssl speed` output: \(output)")
    }

    /// The receiving end, run in a child process: reads each stream through one chunk-sized buffer.
    static func sink(_ args: [String]) throws {
        let tls = TLSConfiguration(caCertificatePath: args[0], certificatePath: args[1], privateKeyPath: args[2])
        let server = try FrameServer(configuration: ServerConfiguration(tls: tls, limits: FrameLimits(maximumStreamSize: 1 << 40)),
                                     handler: StreamSink(), logger: Logger(label: "sink"))
        BenchChild.announce(port: server.port)
    }
}

/// Receives one stream and reports how much arrived and this process's peak memory.
final class StreamSink: FrameHandler, @unchecked Sendable {
    func handle(_ request: Request) {
        guard let stream = request.stream else { return request.responder.fail(.badRequest, "expected a stream") }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var received = 0
        let cpu0 = ResourceUsage.cpuSeconds()
        do {
            while stream.remaining > 0 {
                let n = min(stream.remaining, buffer.count)
                try buffer.withUnsafeMutableBytes { try stream.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<n])) }
                received += n
            }
        } catch {
            return request.responder.fail(.badRequest, "\(error)")
        }
        request.responder.reply(TaskResultMessage(round: 0, task: "stream", sampleCount: 1,
                                                  metrics: ["bytes": Double(received), "cpu": ResourceUsage.cpuSeconds() - cpu0, "peak_rss": Double(ResourceUsage.peakResidentBytes())], layout: nil))
    }
}

/// A stream of `byteCount` bytes made of one repeated chunk: a model-sized stream without a model-sized buffer.
struct PatternSource: ChunkSource {
    let byteCount: Int
    let pattern: [UInt8]

    init(byteCount: Int, chunk: Int) {
        self.byteCount = byteCount
        var state: UInt64 = 0x9e37_79b9_7f4a_7c15
        pattern = (0..<chunk).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
    }

    func withBytes(offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var done = 0
        while done < count {
            let start = (offset + done) % pattern.count
            let n = min(count - done, pattern.count - start)
            try pattern.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<(start + n)])) }
            done += n
        }
    }
}
