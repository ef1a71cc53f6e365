#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import FLCore
import FLPKI

/// Who a client means to reach: the name and role the server's certificate must carry.
public struct ExpectedPeer: Sendable, Hashable {
    public var name: String
    public var role: CertificateRole

    public init(name: String, role: CertificateRole) {
        self.name = name
        self.role = role
    }
}

/// The client end of a SwiftFL connection: it dials out over mutual TLS and multiplexes calls on the
/// one connection — each request carries an id, a reader thread hands each reply to its caller — so
/// a long-poll and a heartbeat can be outstanding together.
public final class FrameClient: @unchecked Sendable {
    private let channel: FrameChannel
    private let connection: TLSConnection
    private let idleTimeout: Double
    private let pending = Mutex<[UInt32: PendingCall]>([:])
    private let nextID = Atomic<UInt32>(1)
    private let failure = Mutex<(any Error)?>(nil)
    private let readerDone = DispatchSemaphore(value: 0)
    /// The keep-alive timer, started and stopped from any thread; `.closed` once `close()` ran, so a
    /// late `startKeepAlive` cannot leave a timer pinging a closed connection.
    private let keepAlive = Mutex(KeepAlive.stopped)

    private enum KeepAlive {
        case stopped
        case running(DispatchSourceTimer)
        case closed
    }

    /// The server's certificate name.
    public var peerName: String { connection.peerName }
    /// The server's certificate role; nil when it carries none.
    public var peerRole: CertificateRole? { connection.peerRole }
    /// The negotiated cipher suite.
    public var cipherSuite: String { connection.cipherSuite }
    /// The negotiated TLS version (always `TLSv1.3`).
    public var protocolVersion: String { connection.protocolVersion }

    /// Connects to `host:port` and completes the TLS handshake within `timeout` seconds. With
    /// `expecting`, a server whose certificate has another name or role is left at once.
    public static func connect(host: String, port: Int, context: TLSContext, limits: FrameLimits = FrameLimits(),
                               timeout: Double = 10, idleTimeout: Double = 60, expecting peer: ExpectedPeer? = nil) throws -> FrameClient {
        let connection = try TLSConnection.connect(host: host, port: port, context: context, timeout: timeout)
        if let peer, connection.peerName != peer.name || connection.peerRole != peer.role {
            connection.close()
            let found = "'\(connection.peerName)' (role \(connection.peerRole.map(\.rawValue) ?? "none"))"
            throw TLSError.unexpectedPeer(address: "\(host):\(port)", reason: "its certificate names \(found), not the \(peer.role) '\(peer.name)'")
        }
        return FrameClient(connection: connection, limits: limits, idleTimeout: idleTimeout)
    }

    /// Connects to the server a site dials out to and checks that its certificate names `peer`:
    /// how every role reaches its server (a collaborator its aggregator, an Envoy or a user the Director).
    public static func connect(to server: Endpoint, expecting peer: ExpectedPeer, context: TLSContext, limits: FrameLimits = FrameLimits(),
                               timeout: Double, idleTimeout: Double) throws -> FrameClient {
        try connect(host: server.host, port: server.port, context: context, limits: limits, timeout: timeout, idleTimeout: idleTimeout,
                    expecting: peer)
    }

    private init(connection: TLSConnection, limits: FrameLimits, idleTimeout: Double) {
        self.connection = connection
        self.channel = FrameChannel(stream: connection, limits: limits)
        self.idleTimeout = idleTimeout
        let thread = Thread { [self] in readLoop() }
        thread.name = "client-reader"
        thread.stackSize = 256 << 10
        thread.start()
    }

    deinit {
        close()
    }

    /// Sends a `Ping` every `interval` seconds so the server does not close the connection as idle
    /// while this end is busy (training, for example). The replies are ignored. Calling it again
    /// replaces the timer (one timer at most); after `close()` it does nothing. Any thread may call it.
    public func startKeepAlive(interval: Double) {
        let replaced: DispatchSourceTimer? = keepAlive.withLock { state in
            if case .closed = state { return nil }
            // Made and resumed under the lock (neither blocks), so a `close()` racing this one sees the new timer.
            let timer = DispatchSource.makeTimerSource(queue: .global())
            timer.schedule(deadline: .now() + interval, repeating: interval)
            timer.setEventHandler { [weak self] in
                guard let self, !self.isClosed else { return }
                let id = self.nextID.add(1, ordering: .relaxed).oldValue
                try? self.channel.send(Ping(), id: id, deadline: .after(seconds: interval))
            }
            timer.resume()
            defer { state = .running(timer) }
            if case let .running(old) = state { return old }
            return nil
        }
        replaced?.cancel()
    }

    /// Stops the keep-alive pings, if any; idempotent, from any thread.
    public func stopKeepAlive() {
        let running: DispatchSourceTimer? = keepAlive.withLock { state in
            guard case let .running(timer) = state else { return nil }
            state = .stopped
            return timer
        }
        running?.cancel()
    }

    /// Whether keep-alive pings are scheduled.
    var isKeepingAlive: Bool {
        keepAlive.withLock { if case .running = $0 { true } else { false } }
    }

    /// Whether the connection has ended.
    public var isClosed: Bool { failure.withLock { $0 != nil } || connection.isClosed }

    /// Closes the connection and stops the keep-alive pings; outstanding calls fail. Idempotent.
    public func close() {
        let running: DispatchSourceTimer? = keepAlive.withLock { state in
            defer { state = .closed }
            if case let .running(timer) = state { return timer }
            return nil
        }
        running?.cancel()
        connection.close()
    }

    /// Sends `message` (and optionally a stream of tensor bytes) and waits for the reply.
    /// An `ErrorReply` from the server is thrown. A reply stream is skipped.
    @discardableResult
    public func call(_ message: some WireMessage, stream: (any ChunkSource)? = nil, timeout: Double) throws -> any WireMessage {
        try call(message, stream: stream, timeout: timeout) { reply, _ in reply }
    }

    /// Sends `message` and hands the reply (with its stream, if any) to `receive` on this thread.
    /// Whatever part of the stream `receive` leaves unread is skipped afterwards.
    public func call<Result>(_ message: some WireMessage, stream: (any ChunkSource)? = nil, timeout: Double,
                             receive: (any WireMessage, InboundStream?) throws -> Result) throws -> Result {
        if let error = failure.withLock({ $0 }) { throw error }
        var id = nextID.add(1, ordering: .relaxed).oldValue
        if id == 0 { id = nextID.add(1, ordering: .relaxed).oldValue }
        let call = PendingCall()
        pending.withLock { $0[id] = call }
        let deadline = Deadline.after(seconds: timeout)
        do {
            if let stream {
                try channel.send(message, id: id, stream: stream, deadline: deadline)
            } else {
                try channel.send(message, id: id, deadline: deadline)
            }
        } catch {
            pending.withLock { _ = $0.removeValue(forKey: id) }
            // A failed write usually means the peer ended the connection; its reason (a TLS alert, an
            // error reply) reaches the reader thread, so give the reader a moment to record it.
            if failure.withLock({ $0 }) == nil, readerDone.wait(timeout: .now() + 1) == .success { readerDone.signal() }
            throw failure.withLock({ $0 }) ?? error
        }
        if call.semaphore.wait(timeout: .now() + max(0, deadline.remainingSeconds)) == .timedOut {
            let removed = pending.withLock { $0.removeValue(forKey: id) != nil }
            if removed { throw TimeoutError("waiting for the reply to \(type(of: message)) from \(peerName)") }
            call.semaphore.wait()  // the reply arrived just now
        }
        switch call.result! {
        case let .failure(error):
            throw error
        case let .success((reply, inbound)):
            defer {
                if let inbound, !inbound.isFinished {
                    do { try inbound.skipRest() } catch { inbound.finish() }
                }
            }
            if let error = reply as? ErrorReply { throw error }
            return try receive(reply, inbound)
        }
    }

    private func readLoop() {
        defer { readerDone.signal() }
        do {
            while true {
                guard let incoming = try channel.readMessage(deadline: .never, payloadDeadline: .after(seconds: idleTimeout)) else {
                    throw TLSError.connection(peer: peerName, reason: "server closed the connection")
                }
                let id = incoming.header.id
                if id == 0 {
                    // Unsolicited: the server refusing us or shutting down. Every call fails with its reason.
                    if let error = incoming.message as? ErrorReply { throw error }
                    continue
                }
                let call = pending.withLock { $0.removeValue(forKey: id) }
                guard incoming.header.flags.contains(.stream) else {
                    call?.complete(.success((incoming.message, nil)))
                    continue
                }
                let consumed = DispatchSemaphore(value: 0)
                let inbound = InboundStream(channel: channel, id: id, byteCount: incoming.streamLength, idleTimeout: idleTimeout,
                                            onFinish: { consumed.signal() })
                guard let call else {
                    try inbound.skipRest()
                    continue
                }
                // The caller reads the stream on its own thread; this thread waits so there is one reader at a time.
                call.complete(.success((incoming.message, inbound)))
                consumed.wait()
                if inbound.remaining > 0 { throw FrameError.truncated(expected: inbound.byteCount, got: inbound.byteCount - inbound.remaining) }
            }
        } catch {
            let reason: any Error = connection.isClosed && !(error is ErrorReply)
                ? TLSError.connection(peer: peerName, reason: "connection closed") : error
            failure.withLock { if $0 == nil { $0 = reason } }
            connection.close()
            let calls = pending.withLock { p -> [PendingCall] in
                defer { p.removeAll() }
                return Array(p.values)
            }
            for call in calls { call.complete(.failure(reason)) }
        }
    }
}

/// A call waiting for its reply; completed exactly once by the reader thread.
private final class PendingCall: @unchecked Sendable {
    let semaphore = DispatchSemaphore(value: 0)
    // Written once before `semaphore` is signalled, read after the wait returns.
    var result: Result<(any WireMessage, InboundStream?), any Error>?

    func complete(_ result: Result<(any WireMessage, InboundStream?), any Error>) {
        self.result = result
        semaphore.signal()
    }
}
