#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
@testable import FLWire

/// One mutual-TLS handshake over loopback: a server thread accepts a single connection while the
/// test dials it. Every wait is bounded.
struct LoopbackTLS {
    struct Outcome {
        var server: Result<TLSConnection, any Error>
        var client: Result<TLSConnection, any Error>
    }

    struct ServerDidNotFinish: Error, CustomStringConvertible {
        var description: String { "the server side of the handshake did not finish within 10 s" }
    }

    /// Runs the handshake between a server presenting `server` and a client presenting `client`
    /// (or no certificate) that dials `host`.
    static func handshake(server: TLSConfiguration, client: TLSConfiguration, clientPresentsCertificate: Bool = true,
                          host: String = "127.0.0.1") throws -> Outcome {
        let serverContext = try TLSContext(server, side: .server)
        let clientContext = try TLSContext(client, side: .client, presentsCertificate: clientPresentsCertificate)
        let (listener, port) = try Socket.listen(host: "127.0.0.1", port: 0)
        defer { close(listener) }
        let serverResult = Mutex<Result<TLSConnection, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            defer { done.signal() }
            do {
                try Socket.wait(listener, for: Int16(POLLIN), deadline: .after(seconds: 10), operation: "accept")
                let fd = accept(listener, nil, nil)
                guard fd >= 0 else { throw TLSError.connection(peer: "listener", reason: String(cString: strerror(errno))) }
                let connection = try TLSConnection.accept(fd: fd, context: serverContext, timeout: 5)
                serverResult.withLock { $0 = .success(connection) }
            } catch {
                serverResult.withLock { $0 = .failure(error) }
            }
        }
        thread.start()
        let clientResult: Result<TLSConnection, any Error> = Result {
            try TLSConnection.connect(host: host, port: port, context: clientContext, timeout: 5)
        }
        guard done.wait(timeout: .now() + 10) == .success, let server = serverResult.withLock({ $0 }) else { throw ServerDidNotFinish() }
        return Outcome(server: server, client: clientResult)
    }
}

extension TLSConnection {
    /// Writes `text` and reads back up to 1 KiB, for exchanging a few bytes in tests.
    func send(_ text: String) throws {
        try Array(text.utf8).withUnsafeBytes { try write($0, deadline: .after(seconds: 5)) }
    }

    func receive(count: Int) throws -> String {
        var buffer = [UInt8](repeating: 0, count: count)
        try buffer.withUnsafeMutableBytes { try readExactly(into: $0, deadline: .after(seconds: 5)) }
        return String(decoding: buffer, as: UTF8.self)
    }

    /// The error of the first read, which is where TLS 1.3 tells a client its certificate was refused.
    func firstReadError() -> (any Error)? {
        var byte = [UInt8](repeating: 0, count: 1)
        do {
            let n = try byte.withUnsafeMutableBytes { try read(into: $0, deadline: .after(seconds: 5)) }
            return n == 0 ? TLSError.connection(peer: peerName, reason: "closed without an alert") : nil
        } catch {
            return error
        }
    }
}
