#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import FLCore
import FLTesting
import FLWire

/// What any TLS stream over loopback could reach on this machine, from its parts measured in the
/// same run: every byte is encrypted once by the sender and decrypted once by the receiver (at best
/// at `openssl speed` for the negotiated cipher), is copied once on each end between the caller's
/// buffer and OpenSSL's record buffer (OpenSSL 3.0 seals and opens records in place in its own
/// buffers), and crosses loopback TCP once (at best at the CPU cost of a plain TCP stream).
/// Per-record calls, system calls and scheduling come on top, so a real stream can only be slower.
struct StreamCeiling {
    /// Bytes per second of the cipher on one core at 16 KiB blocks (one TLS record).
    var cipherSpeed: Double
    /// CPU seconds the sending and receiving threads spent on a plain TCP stream of `bytes`.
    var tcpSenderCPU: Double
    var tcpReceiverCPU: Double
    var tcpThroughput: Double
    /// CPU seconds to copy `bytes` one 16 KiB record at a time.
    var recordCopyCPU: Double
    var bytes: Int
    var cores: Int

    /// Bytes per second the sender can reach alone: it must encrypt and send every byte.
    var senderBound: Double { Double(bytes) / (Double(bytes) / cipherSpeed + recordCopyCPU + tcpSenderCPU) }

    /// Bytes per second both ends can reach together when their work is spread perfectly over all cores.
    var machineBound: Double {
        let work = 2 * (Double(bytes) / cipherSpeed + recordCopyCPU) + tcpSenderCPU + tcpReceiverCPU
        return Double(bytes) / (work / Double(max(1, min(cores, 2))))
    }

    var bound: Double { min(senderBound, machineBound) }

    static func measure(cipher: String, bytes: Int, chunk: Int) throws -> StreamCeiling {
        let speed = try StreamBenchmark.opensslSpeed(cipher: cipher)
        var best: (sender: Double, receiver: Double, throughput: Double)?
        for _ in 0..<3 {
            let run = try plainTCP(bytes: bytes, chunk: chunk)
            if best == nil || run.sender + run.receiver < best!.sender + best!.receiver { best = run }
        }
        return StreamCeiling(cipherSpeed: speed, tcpSenderCPU: best!.sender, tcpReceiverCPU: best!.receiver,
                             tcpThroughput: best!.throughput, recordCopyCPU: recordCopy(bytes: bytes, chunk: chunk),
                             bytes: bytes, cores: ProcessInfo.processInfo.activeProcessorCount)
    }

    /// The least CPU time, over three runs, to copy `bytes` from a `chunk`-sized buffer into a
    /// record-sized one, 16 KiB at a time: what OpenSSL does to each byte on each end.
    static func recordCopy(bytes: Int, chunk: Int) -> Double {
        let record = 16 << 10
        let source = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 64)
        let target = UnsafeMutableRawBufferPointer.allocate(byteCount: record + 64, alignment: 64)
        defer { source.deallocate(); target.deallocate() }
        source.initializeMemory(as: UInt8.self, repeating: 0x5a)
        target.initializeMemory(as: UInt8.self, repeating: 0)
        return ThreadCPUTime.best(of: 3) {
            var offset = 0
            for _ in 0..<(bytes / record) {
                // The 5-byte record header comes first in OpenSSL's buffer, so the copy is unaligned there too.
                (target.baseAddress! + 5).copyMemory(from: source.baseAddress! + offset, byteCount: record)
                offset = (offset + record) % chunk
            }
        }
    }

    /// Streams `bytes` over a loopback TCP connection between two threads, `chunk` bytes per call,
    /// and returns each thread's CPU seconds and the throughput.
    static func plainTCP(bytes: Int, chunk: Int) throws -> (sender: Double, receiver: Double, throughput: Double) {
        let listener = try Socket.listen(host: "127.0.0.1", port: 0)
        defer { close(listener.fd) }
        let client = try Socket.connect(host: "127.0.0.1", port: listener.port, deadline: .after(seconds: 10))
        defer { close(client) }
        try Socket.wait(listener.fd, for: Int16(POLLIN), deadline: .after(seconds: 10), operation: "accept")
        let server = accept(listener.fd, nil, nil)
        guard server >= 0 else { throw BenchError("accept: \(String(cString: strerror(errno)))") }
        let receiverCPU = Mutex<Result<Double, BenchError>>(.failure(BenchError("receiver did not finish")))
        let done = DispatchSemaphore(value: 0)
        let receiver = Thread {
            defer { close(server); done.signal() }
            var buffer = [UInt8](repeating: 0, count: chunk)
            let start = ThreadCPUTime.now()
            var got = 0
            while got < bytes {
                let n = buffer.withUnsafeMutableBytes { read(server, $0.baseAddress, min(chunk, bytes - got)) }
                if n > 0 { got += n; continue }
                if n < 0 && (errno == EAGAIN || errno == EINTR) {
                    if (try? Socket.wait(server, for: Int16(POLLIN), deadline: .after(seconds: 30), operation: "read")) == nil { break }
                    continue
                }
                receiverCPU.withLock { $0 = .failure(BenchError("plain TCP receiver: read returned \(n) after \(got) bytes")) }
                return
            }
            let cpu = ThreadCPUTime.now() - start
            receiverCPU.withLock { $0 = got == bytes ? .success(cpu) : .failure(BenchError("plain TCP receiver timed out after \(got) bytes")) }
        }
        receiver.start()
        let data = [UInt8](repeating: 0x5a, count: chunk)
        let wallStart = Deadline.now
        let cpuStart = ThreadCPUTime.now()
        var sent = 0
        while sent < bytes {
            let n = data.withUnsafeBytes { write(client, $0.baseAddress, min(chunk, bytes - sent)) }
            if n > 0 { sent += n; continue }
            if n < 0 && (errno == EAGAIN || errno == EINTR) {
                try Socket.wait(client, for: Int16(POLLOUT), deadline: .after(seconds: 30), operation: "plain TCP write")
                continue
            }
            throw BenchError("plain TCP sender: write failed: \(String(cString: strerror(errno)))")
        }
        let senderCPU = ThreadCPUTime.now() - cpuStart
        guard done.wait(timeout: .now() + 60) == .success else { throw BenchError("plain TCP receiver did not finish") }
        let seconds = wallStart.elapsedSeconds
        return (senderCPU, try receiverCPU.withLock { try $0.get() }, Double(bytes) / seconds)
    }
}
