#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import FLCore
import CShims

/// Serves a `FrameServer`'s authenticated connections from one thread (`peers:<port>`) waiting on
/// all their sockets with epoll, so a connection costs a descriptor, OpenSSL's state and the bytes of
/// a partial frame — never a thread — however many there are and however slowly they send.
///
/// Reading: a readable connection is read without waiting until OpenSSL says it would block (so
/// records OpenSSL read ahead never sit unseen), at most `drainBudget` bytes per turn before the
/// others get theirs; its `FrameAssembler` puts frames together under the server's `FrameLimits`.
/// Pings are answered here. Every other request goes to `workers`, keyed by connection, so one
/// connection's requests are handled one at a time and in order while a slow handler holds up only
/// its own peer. A connection with `maximumInFlight` requests waiting stops being read until half
/// are done: a peer that sends faster than it is served is slowed down, not buffered.
///
/// Streams: a request with a stream takes its connection out of the loop while its handler runs;
/// the handler reads the stream (the bytes the loop held first, then blocking reads) on its worker,
/// as `FrameHandler` promises, and the connection comes back afterwards with whatever followed.
///
/// Idle connections: one with no complete frame for `idleTimeout` (and no request being handled)
/// is closed. `FrameHandler.disconnected` runs on the connection's worker after its last request.
final class ConnectionLoop: @unchecked Sendable {
    /// Bytes read from one connection before the others get a turn.
    static let drainBudget = 256 << 10
    /// Requests of one connection handed to the workers and not finished, before it stops being read.
    static let maximumInFlight = 64

    private let epoll: Epoll
    private let wakePipe: (read: Int32, write: Int32)
    private let handler: any FrameHandler
    private let limits: FrameLimits
    private let idleTimeout: Double
    private let logger: Logger
    private let workers: WorkerPool
    private let ended: @Sendable (PeerConnection) -> Void
    private let inbox = Mutex(Inbox())
    private let done = DispatchSemaphore(value: 0)
    // The loop thread's own.
    private var served: [UInt64: ServedConnection] = [:]
    private var again: [ServedConnection] = []
    private var scratch = [UInt8](repeating: 0, count: 64 << 10)

    private struct Inbox {
        var commands: [Command] = []
        var stopped = false
    }

    private enum Command {
        /// Start serving a connection whose handler accepted it.
        case add(ServedConnection)
        /// Read a connection again that stopped for too many requests in flight.
        case resume(ServedConnection)
        /// A stream's handler is done: serve the connection again, starting with these bytes.
        case reattach(ServedConnection, [UInt8])
    }

    /// Starts the loop's thread. `ended` runs (on a worker) after `disconnected` for every connection added.
    init(name: String, handler: any FrameHandler, limits: FrameLimits, idleTimeout: Double, workers: WorkerPool, logger: Logger,
         ended: @escaping @Sendable (PeerConnection) -> Void) throws {
        self.handler = handler
        self.limits = limits
        self.idleTimeout = idleTimeout
        self.workers = workers
        self.logger = logger
        self.ended = ended
        epoll = try Epoll()
        var fds: [Int32] = [0, 0]
        guard fl_pipe_cloexec(&fds) == 0 else { throw TLSError.configuration("pipe: \(String(cString: strerror(errno)))") }
        for p in fds { Socket.setNonBlocking(p) }
        wakePipe = (fds[0], fds[1])
        epoll.add(wakePipe.read, token: 0)
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.stackSize = 512 << 10
        thread.start()
    }

    deinit {
        Glibc.close(wakePipe.read)
        Glibc.close(wakePipe.write)
    }

    /// Serves `peer` from now on (any thread).
    func add(_ peer: PeerConnection, _ connection: TLSConnection) {
        send(.add(ServedConnection(peer: peer, connection: connection, limits: limits)))
    }

    /// Ends the loop: every connection is closed and its `disconnected` queued. Returns once the thread is done.
    func stop() {
        let first = inbox.withLock { i in
            defer { i.stopped = true }
            return !i.stopped
        }
        guard first else { return }
        wake()
        done.wait()
    }

    private func send(_ command: Command) {
        let queued = inbox.withLock { i in
            guard !i.stopped else { return false }
            i.commands.append(command)
            return true
        }
        if queued {
            wake()
        } else {
            switch command {
            case let .add(s), let .reattach(s, _): retire(s)
            case .resume: break
            }
        }
    }

    private func wake() {
        var one: UInt8 = 1
        _ = Glibc.write(wakePipe.write, &one, 1)
    }

    // MARK: - The loop thread

    /// Whether the calling thread is a loop's: replies sent from it must not wait (`Responder.reply`).
    static var isCurrentThread: Bool { pthread_getspecific(loopThreadKey) != nil }

    private static let loopThreadKey: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "no thread-specific key left for the event loop")
        return key
    }()

    private func run() {
        pthread_setspecific(ConnectionLoop.loopThreadKey, UnsafeRawPointer(bitPattern: 1))
        var tokens = [UInt64](repeating: 0, count: 256)
        var nextSweep = Deadline.after(seconds: sweepInterval)
        defer { shutDown() }
        while true {
            let (commands, stopping) = inbox.withLock { i in
                defer { i.commands.removeAll() }
                return (i.commands, i.stopped)
            }
            if stopping { return }
            for command in commands { apply(command) }
            let retry = again
            again.removeAll()
            for s in retry where served[s.key] === s { drain(s) }
            if nextSweep.hasPassed {
                closeIdle()
                nextSweep = .after(seconds: sweepInterval)
            }
            let n = epoll.wait(into: &tokens, until: again.isEmpty ? nextSweep : .now)
            for token in tokens[0..<n] {
                if token == 0 {
                    var sink = [UInt8](repeating: 0, count: 64)
                    while Glibc.read(wakePipe.read, &sink, sink.count) > 0 {}
                } else if let s = served[token] {
                    drain(s)
                }
            }
        }
    }

    /// How often idle connections are looked for: often enough that one is closed within an eighth of the timeout.
    private var sweepInterval: Double { min(1, max(0.01, idleTimeout / 8)) }

    private func apply(_ command: Command) {
        switch command {
        case let .add(s):
            served[s.key] = s
            register(s)
            if s.registered { drain(s) }  // the handshake's last read may have taken the first request in already
        case let .resume(s):
            guard served[s.key] === s, s.paused, !s.detached else { return }
            s.paused = false
            register(s)
            if s.registered { drain(s) }
        case let .reattach(s, rest):
            guard served[s.key] === s else { return retire(s) }
            s.detached = false
            s.lastHeard.store(Deadline.monotonicNanoseconds(), ordering: .relaxed)
            s.assembler.append(rest)
            register(s)
            if s.registered { drain(s) }
        }
    }

    /// Watches `s` again; a connection the kernel will not watch (out of memory) is ended.
    private func register(_ s: ServedConnection) {
        guard !s.registered else { return }
        if epoll.add(s.connection.descriptor, token: s.key) {
            s.registered = true
        } else {
            logger.error("closing connection of \(s.peer): epoll: \(String(cString: strerror(errno)))", ["peer": s.peer.name])
            end(s)
        }
    }

    private func unregister(_ s: ServedConnection) {
        guard s.registered else { return }
        epoll.remove(s.connection.descriptor)
        s.registered = false
    }

    /// Reads what `s` has sent and hands on the frames, until it would block, stops being read, or
    /// has had its turn; ends it when it closed or broke the protocol.
    private func drain(_ s: ServedConnection) {
        var budget = ConnectionLoop.drainBudget
        do {
            try deliver(s)
            while s.reading {
                let outcome = try scratch.withUnsafeMutableBytes { try s.connection.readAvailable(into: $0) }
                switch outcome {
                case .wouldBlock:
                    return
                case .end:
                    if let cut = s.assembler.truncation, !s.connection.isClosed {
                        logger.warning("closing connection of \(s.peer): \(cut)", ["peer": s.peer.name])
                    }
                    return end(s)
                case let .bytes(n):
                    scratch.withUnsafeBytes { s.assembler.append(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                    try deliver(s)
                    budget -= n
                    if budget <= 0 && s.reading {
                        again.append(s)
                        return
                    }
                }
            }
        } catch {
            logger.warning("closing connection of \(s.peer): \(error)", ["peer": s.peer.name])
            end(s)
        }
    }

    /// Hands on every complete frame `s` holds while it is being read.
    private func deliver(_ s: ServedConnection) throws {
        while s.reading, let frame = try s.assembler.next() {
            s.lastHeard.store(Deadline.monotonicNanoseconds(), ordering: .relaxed)
            let id = frame.header.id
            if frame.message is Ping {
                s.peer.responderFor(id).post(OkReply())
                continue
            }
            if frame.header.flags.contains(.stream) {
                return detach(s, frame)
            }
            let request = Request(id: id, message: frame.message, stream: nil, peer: s.peer)
            // On the loop only when none of the connection's earlier requests is still with the workers: order is kept.
            if s.inFlight.load(ordering: .relaxed) == 0 && handler.handlesOnLoop(frame.message) {
                handler.handle(request)
                continue
            }
            if s.inFlight.add(1, ordering: .relaxed).newValue >= ConnectionLoop.maximumInFlight {
                unregister(s)
                s.paused = true
            }
            workers.submit(key: s.key) { [self] in
                handler.handle(request)
                finished(s)
            }
        }
    }

    /// A request of `s` was handled (on its worker).
    private func finished(_ s: ServedConnection) {
        s.lastHeard.store(Deadline.monotonicNanoseconds(), ordering: .relaxed)
        if s.inFlight.subtract(1, ordering: .relaxed).newValue == ConnectionLoop.maximumInFlight / 2 { send(.resume(s)) }
    }

    /// Takes `s` out of the loop while the handler of `frame` reads its stream on a worker.
    private func detach(_ s: ServedConnection, _ frame: IncomingFrame) {
        unregister(s)
        s.detached = true
        let source = PrefixedStream(prefix: s.assembler.takeBuffered(), connection: s.connection)
        let id = frame.header.id
        let inbound = InboundStream(channel: FrameChannel(stream: source, limits: limits), id: id, byteCount: frame.streamLength,
                                    idleTimeout: idleTimeout)
        let request = Request(id: id, message: frame.message, stream: inbound, peer: s.peer)
        s.inFlight.add(1, ordering: .relaxed)
        workers.submit(key: s.key) { [self] in
            handler.handle(request)
            if !inbound.isFinished {
                do {
                    try inbound.skipRest()
                } catch {
                    logger.warning("closing connection of \(s.peer): \(error)", ["peer": s.peer.name])
                    s.connection.close()
                }
            }
            finished(s)
            send(.reattach(s, source.takeRemaining()))
        }
    }

    /// Closes the connections that sent no frame for `idleTimeout` and have no request being handled.
    private func closeIdle() {
        let now = Deadline.monotonicNanoseconds()
        let limit = UInt64(idleTimeout * 1e9)
        for s in served.values where !s.detached && s.inFlight.load(ordering: .relaxed) == 0 {
            let heard = s.lastHeard.load(ordering: .relaxed)
            guard now > heard, now - heard >= limit else { continue }
            logger.info("closing idle connection of \(s.peer): \(TimeoutError("no frame from \(s.peer.name) for \(idleTimeout) s"))",
                        ["peer": s.peer.name])
            end(s)
        }
    }

    /// Stops serving `s` and closes it; its `disconnected` follows its last request.
    private func end(_ s: ServedConnection) {
        unregister(s)
        if served[s.key] === s { served[s.key] = nil }
        retire(s)
    }

    /// Closes `s` and queues its `disconnected` behind its requests (any thread).
    private func retire(_ s: ServedConnection) {
        s.connection.close()
        workers.submit(key: s.key, always: true) { [self] in
            handler.disconnected(s.peer)
            ended(s.peer)
        }
    }

    private func shutDown() {
        let left = inbox.withLock { i in
            defer { i.commands.removeAll() }
            return i.commands
        }
        for command in left {
            if case let .add(s) = command { retire(s) }
        }
        for s in served.values where !s.detached { end(s) }
        // A detached connection is closed here; its stream's worker retires it when it comes back.
        for s in served.values { s.connection.close() }
        served.removeAll()
        done.signal()
    }
}

/// One connection served by a `ConnectionLoop`. Its assembler and flags belong to the loop thread
/// (the assembler is left alone while the connection is detached for a stream); the counters are atomic.
final class ServedConnection: @unchecked Sendable {
    let peer: PeerConnection
    let connection: TLSConnection
    var assembler: FrameAssembler
    /// Registered with epoll.
    var registered = false
    /// Not read: too many requests in flight.
    var paused = false
    /// Out of the loop while a stream's handler reads it.
    var detached = false
    let inFlight = Atomic<Int>(0)
    /// When the last complete frame arrived or the last request was handled (monotonic nanoseconds).
    let lastHeard = Atomic<UInt64>(Deadline.monotonicNanoseconds())

    init(peer: PeerConnection, connection: TLSConnection, limits: FrameLimits) {
        self.peer = peer
        self.connection = connection
        self.assembler = FrameAssembler(limits: limits)
    }

    var key: UInt64 { peer.serial }
    var reading: Bool { registered && !paused && !detached }
}
