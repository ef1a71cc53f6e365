import Foundation
import FLCore
import FLWire

/// The same stream as `StreamBenchmark`'s, made by a plain C program (scripts/bench/tls_stream.c,
/// built by `make bench` beside fx-bench as `tls-stream-reference`): the same OpenSSL set up the same
/// way, the same certificates, bytes and write size, two processes over loopback TCP, but blocking
/// sockets and nothing else between the program and OpenSSL. What our stream should come close to.
struct StreamReference {
    static let executable = "tls-stream-reference"

    var bytesPerSecond: Double
    /// CPU seconds of the sending process in its best stream.
    var senderCPU: Double
    var cipherSuite: String

    /// Runs the reference with the certificates of `server` and `client`; best of its three streams.
    static func measure(server: TLSConfiguration, client: TLSConfiguration, bytes: Int, chunk: Int) throws -> StreamReference {
        guard let path = ChildProcess.siblingExecutable(executable) else {
            throw BenchError("\(executable) is not beside fx-bench: `make bench` builds it from scripts/bench/tls_stream.c "
                             + "(cc -O2 -o .build/release/\(executable) scripts/bench/tls_stream.c $(pkg-config --cflags --libs openssl))")
        }
        let child = try ChildProcess(executable: path,
                                     arguments: [server.caCertificatePath, server.certificatePath, server.privateKeyPath,
                                                 client.certificatePath, client.privateKeyPath, "\(bytes)", "\(chunk)"],
                                     standardOutput: .pipe, standardError: .inherit)
        let output = String(decoding: child.standardOutput!.readDataToEndOfFile(), as: UTF8.self)
        let status = child.wait()!
        var fields: [String: String] = [:]
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        guard status.isSuccess, let rate = fields["bytes_per_second"].flatMap(Double.init),
              let cpu = fields["sender_cpu_seconds"].flatMap(Double.init), let cipher = fields["cipher"] else {
            throw BenchError("\(executable) \(status): \(output)")
        }
        return StreamReference(bytesPerSecond: rate, senderCPU: cpu, cipherSuite: cipher)
    }
}
