#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import FLCore
import FLPKI
import CShims

/// A mutual-TLS server speaking SwiftFL frames.
///
/// One thread (`accept:<port>`) accepts connections and drives every TLS handshake at once,
/// non-blocking, with `poll` — so a TCP connection costs a descriptor, not a thread, until its peer
/// has authenticated; the pending handshakes are bounded in all and per address
/// (`HandshakeQueue`). A peer that completes its handshake and passes the role, name and revocation
/// checks, within `maximumConnections` and `maximumConnectionsPerName`, is then served on a thread
/// of its own (blocking I/O with deadlines, never on the Swift concurrency pool), and everyone else
/// keeps being served when one peer misbehaves.
///
/// Descriptors: connections and handshakes together never take more than the server's descriptor
/// budget — the soft `RLIMIT_NOFILE` less what the process had open when the server started, less a
/// reserve of a sixteenth of the limit (16 to 256) for everything else the process opens later.
/// Running out is worse than refusing a connection: libdispatch, for one, makes its timer and
/// event descriptors lazily and traps when it cannot (measured: an aggregator limited to 64
/// descriptors died of SIGILL after `timerfd_create` failed with EMFILE). At the budget, or when `accept` fails for want of descriptors,
/// the server closes its oldest idle handshake to make room; when none is idle it refuses the
/// newcomer and stops polling the listening socket for a while (`AcceptBackoff`) instead of spinning.
///
/// Floods are logged condensed (`LogThrottle`): refusals of unauthenticated connections and
/// evictions at most twice per reason every 10 s, with counts; a refused *authenticated* peer is
/// logged by name every time (connections over the per-name limit excepted: those are condensed per
/// name). With a revocation list configured, the accept thread also checks it about once a second and
/// closes established connections whose certificates it newly revokes.
public final class FrameServer: @unchecked Sendable {
    public let configuration: ServerConfiguration
    /// The port actually listened on.
    public let port: Int
    /// Bytes its connections carried, both ways.
    public let traffic = TrafficCounter()
    private let context: TLSContext
    private let handler: any FrameHandler
    private let logger: Logger
    private let listenFD: Int32
    private let wakePipe: (read: Int32, write: Int32)
    private let registry = Mutex(Registry())
    private let nextSerial = Atomic<UInt64>(1)
    private let stopped = Atomic<Bool>(false)
    private let pendingCount = Atomic<Int>(0)
    private let acceptDone = DispatchSemaphore(value: 0)
    /// Runs the handler's calls, one at a time per connection (keyed by serial).
    private let workers: WorkerPool
    /// Reads every authenticated connection.
    private var loop: ConnectionLoop!
    /// Descriptors this server may hold for connections and handshakes together.
    public let descriptorBudget: Int

    /// How often the accept thread looks at the clock-driven work: log summaries, the revocation list.
    static let housekeepingInterval = 1.0
    /// Connections accepted per wake-up before the pending handshakes get their turn again.
    static let acceptBatch = 64

    /// The authenticated connections being served, and how many per certificate name.
    private struct Registry {
        var open: [UInt64: PeerConnection] = [:]
        var perName: [String: Int] = [:]
    }

    /// Starts listening and accepting. Returns once the socket is bound.
    public init(configuration: ServerConfiguration, handler: any FrameHandler, logger: Logger) throws {
        self.configuration = configuration
        self.handler = handler
        self.logger = logger
        self.context = try TLSContext(configuration.tls, side: .server, logger: logger)
        descriptorBudget = FrameServer.descriptorBudget()
        let wanted = configuration.maximumConnections + configuration.maximumPendingHandshakes
        if descriptorBudget < wanted {
            logger.info("the descriptor limit (\(FrameServer.descriptorLimit)) leaves room for \(descriptorBudget) connections and handshakes "
                        + "together, fewer than the \(wanted) configured; raise `ulimit -n` to serve more")
        }
        let (fd, port) = try Socket.listen(host: configuration.host, port: configuration.port)
        self.listenFD = fd
        self.port = port
        var fds: [Int32] = [0, 0]
        guard fl_pipe_cloexec(&fds) == 0 else {
            Glibc.close(fd)
            throw TLSError.configuration("pipe: \(String(cString: strerror(errno)))")
        }
        for p in fds { Socket.setNonBlocking(p) }
        wakePipe = (fds[0], fds[1])
        workers = WorkerPool(name: "peer-handler:\(port)", maximumThreads: configuration.maximumHandlerThreads)
        do {
            loop = try ConnectionLoop(name: "peers:\(port)", handler: handler, limits: configuration.limits, idleTimeout: configuration.idleTimeout,
                                      workers: workers, logger: logger) { [weak self] peer in self?.forget(peer) }
        } catch {
            Glibc.close(fd)
            for p in fds { Glibc.close(p) }
            throw error
        }
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "accept:\(port)"
        thread.stackSize = 512 << 10
        thread.start()
    }

    deinit {
        Glibc.close(listenFD)
        Glibc.close(wakePipe.read)
        Glibc.close(wakePipe.write)
    }

    /// Number of authenticated connections being served.
    public var connectionCount: Int { registry.withLock { $0.open.count } }

    /// Number of TCP connections whose TLS handshake is under way.
    public var pendingHandshakeCount: Int { pendingCount.load(ordering: .relaxed) }

    /// Stops accepting and closes every connection. Idempotent.
    public func stop() {
        if stopped.exchange(true, ordering: .acquiringAndReleasing) { return }
        var one: UInt8 = 1
        _ = Glibc.write(wakePipe.write, &one, 1)
        acceptDone.wait()
        loop.stop()
        let open = registry.withLock { Array($0.open.values) }
        for peer in open { peer.close() }
    }

    // MARK: - The accept thread

    private func acceptLoop() {
        var queue = HandshakeQueue(limit: configuration.maximumPendingHandshakes, perAddressLimit: configuration.maximumPendingHandshakesPerAddress)
        var throttle = LogThrottle(logger: logger)
        var backoff = AcceptBackoff()
        var revocationGeneration = context.revocation?.current().generation
        var nextHousekeeping = Deadline.after(seconds: FrameServer.housekeepingInterval)
        var fds: [pollfd] = []
        fds.reserveCapacity(queue.limit + 2)
        defer {
            for entry in queue.removeAll() { entry.discard() }
            pendingCount.store(0, ordering: .relaxed)
            throttle.flush(all: true)
            acceptDone.signal()
        }
        while !stopped.load(ordering: .acquiring) {
            for entry in queue.removeExpired() {
                entry.discard()
                throttle.note("timed out", source: entry.label, fields: ["peer": entry.label],
                              message: "refused connection from \(entry.label): \(TimeoutError("TLS handshake with \(entry.label)"))",
                              summary: { n, s, last in "refused \(n) more connections in the last \(s) s (the last from \(last)): TLS handshake timed out" })
            }
            if nextHousekeeping.hasPassed {
                throttle.flush()
                closeRevokedConnections(seen: &revocationGeneration)
                nextHousekeeping = .after(seconds: FrameServer.housekeepingInterval)
            }
            pendingCount.store(queue.count, ordering: .relaxed)

            let accepting = backoff.allowsAccepting
            fds.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: wakePipe.read, events: Int16(POLLIN), revents: 0))
            // A negative descriptor is skipped by poll: that is how accepting pauses.
            fds.append(pollfd(fd: accepting ? listenFD : -1, events: Int16(POLLIN), revents: 0))
            for entry in queue.entries { fds.append(pollfd(fd: entry.fd, events: entry.events, revents: 0)) }
            var wake = nextHousekeeping
            if let oldest = queue.oldest { wake = wake.min(oldest.deadline) }
            // While paused, wake when accepting may resume; once resumed, the listening socket wakes us.
            if !accepting, let resumes = backoff.resumes { wake = wake.min(resumes) }
            let rc = poll(&fds, nfds_t(fds.count), wake.pollTimeout)
            if rc < 0 {
                let e = errno
                if e == EINTR { continue }
                // Only a lack of kernel memory can get here; pause rather than spin.
                throttle.note("poll", level: .error, source: "", message: "accept loop: poll failed: \(String(cString: strerror(e)))",
                              summary: { n, s, _ in "accept loop: poll failed \(n) more times in the last \(s) s" })
                _ = poll(nil, 0, 10)
                continue
            }
            if fds[0].revents != 0 { return }
            if rc > 0 {
                for (index, entry) in queue.entries.enumerated() where fds[index + 2].revents != 0 {
                    advance(entry, throttle: &throttle)
                }
                queue.removeDone()
                pendingCount.store(queue.count, ordering: .relaxed)
                if accepting && fds[1].revents != 0 { acceptWaiting(into: &queue, backoff: &backoff, throttle: &throttle) }
            }
        }
    }

    /// Accepts the connections waiting on the listening socket (up to a batch) into the handshake queue.
    private func acceptWaiting(into queue: inout HandshakeQueue, backoff: inout AcceptBackoff, throttle: inout LogThrottle) {
        var taken = 0
        while taken < FrameServer.acceptBatch {
            taken += 1
            let fd = fl_accept_cloexec(listenFD)
            if fd < 0 {
                let e = errno
                switch e {
                case EINTR, ECONNABORTED:
                    continue
                case EAGAIN, EWOULDBLOCK:
                    return
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Make room by closing the oldest connection that has not said a word, if there is one;
                    // otherwise stop polling the listening socket for a while instead of spinning on it.
                    if let victim = queue.removeOldestIdle(from: nil) {
                        victim.discard()
                        noteEviction(of: victim, reason: "out of file descriptors (\(String(cString: strerror(e))))", throttle: &throttle)
                        continue
                    }
                    backoff.failed()
                    let limit = FrameServer.descriptorLimit
                    throttle.note("accept: out of resources", level: .error, source: "",
                                  message: "cannot accept connections: \(String(cString: strerror(e))) (descriptor limit \(limit)), "
                                      + "no handshake is idle; pausing accepts for \(Int(backoff.delay * 1000)) ms, doubling up to \(Int(AcceptBackoff.longest)) s while it lasts",
                                  summary: { n, s, _ in "cannot accept connections: \(n) more accepts failed in the last \(s) s (\(String(cString: strerror(e))), descriptor limit \(limit))" })
                    return
                default:
                    throttle.note("accept: \(e)", level: .error, source: "", message: "accept failed: \(String(cString: strerror(e)))",
                                  summary: { n, s, _ in "accept failed \(n) more times in the last \(s) s: \(String(cString: strerror(e)))" })
                    return
                }
            }
            backoff.succeeded()
            guard let (host, peerPort) = Socket.peerEndpoint(fd) else {
                Glibc.close(fd)  // gone already
                continue
            }
            Socket.setNoDelay(fd)
            let label = "\(host):\(peerPort)"
            if queue.count + connectionCount >= descriptorBudget {
                if let victim = queue.removeOldestIdle(from: nil) {
                    victim.discard()
                    noteEviction(of: victim, reason: "\(descriptorBudget) descriptors in use by connections and handshakes (the server's budget)",
                                 throttle: &throttle)
                } else {
                    Glibc.close(fd)
                    backoff.failed()
                    let budget = descriptorBudget
                    throttle.note("budget", level: .error, source: label, fields: ["peer": label],
                                  message: "refused connection from \(label): \(budget) descriptors in use by connections and handshakes (the server's budget "
                                      + "under the descriptor limit \(FrameServer.descriptorLimit)), none of them idle; pausing accepts for "
                                      + "\(Int(backoff.delay * 1000)) ms, doubling up to \(Int(AcceptBackoff.longest)) s while it lasts",
                                  summary: { n, s, last in "refused \(n) more connections in the last \(s) s (the last from \(last)): out of descriptors (budget \(budget))" })
                    return
                }
            }
            let entry = PendingHandshake(fd: fd, host: host, label: label, deadline: .after(seconds: configuration.handshakeTimeout))
            let admission = queue.admit(entry)
            pendingCount.store(queue.count, ordering: .relaxed)
            switch admission {
            case .admitted:
                break
            case let .admittedEvicting(victim, reason):
                victim.discard()
                noteEviction(of: victim, reason: reason, throttle: &throttle)
            case let .refused(reason):
                entry.discard()
                throttle.note("refused: \(reason.prefix { $0 != " " }) pending", source: label, fields: ["peer": label],
                              message: "refused connection from \(label): \(reason)",
                              summary: { n, s, last in "refused \(n) more connections in the last \(s) s (the last from \(last)): too many handshakes pending, none of them idle" })
            }
        }
    }

    private func noteEviction(of victim: PendingHandshake, reason: String, throttle: inout LogThrottle) {
        throttle.note("evicted", source: victim.label, fields: ["peer": victim.label],
                      message: "closed the idle connection of \(victim.label), which had sent nothing, to make room: \(reason)",
                      summary: { n, s, last in "closed \(n) more idle connections in the last \(s) s to make room for newer ones (the last of \(last))" })
    }

    /// One step of a pending handshake whose socket is ready; a finished one is admitted or refused.
    private func advance(_ entry: PendingHandshake, throttle: inout LogThrottle) {
        do {
            guard try entry.advance(context: context, traffic: traffic) == .finished, let connection = entry.takeConnection() else { return }
            admit(connection, label: entry.label, throttle: &throttle)
        } catch {
            entry.discard()
            var reason = (error as? TLSError).flatMap { if case let .handshake(_, reason) = $0 { reason } else { nil } } ?? "\(error)"
            if reason.utf8.count > 200 { reason = String(reason.prefix(200)) }
            throttle.note("handshake: \(reason)", source: entry.label, fields: ["peer": entry.label],
                          message: "refused connection from \(entry.label): \(error)",
                          summary: { n, s, last in "refused \(n) more connections in the last \(s) s (the last from \(last)): \(reason)" })
        }
    }

    /// An authenticated peer: refused (with an error reply) when its role, name or certificate may
    /// not connect or its limits are reached; otherwise welcomed (`FrameHandler.connected`) on a
    /// worker and served by the loop.
    private func admit(_ connection: TLSConnection, label: String, throttle: inout LogThrottle) {
        let channel = FrameChannel(stream: connection, limits: configuration.limits)
        let serial = nextSerial.add(1, ordering: .relaxed).oldValue
        let peer = PeerConnection(name: connection.peerName, role: connection.peerRole, address: label, serial: serial,
                                  certificateSerial: connection.peerSerial, channel: channel, writeTimeout: configuration.idleTimeout)
        // The handshake checked the list it started with; one revoked meanwhile is caught here.
        let revoked = context.revocation?.current().revokedSerialNumbers.contains(peer.certificateSerial) == true
        if let refusal = refusal(of: peer) ?? (revoked ? "the certificate of '\(peer.name)' (serial \(peer.certificateSerial)) has been revoked" : nil) {
            logger.warning("refused \(peer): \(refusal)", ["peer": peer.name])
            FrameServer.turnAway(channel, connection, refusal)
            return
        }
        let full: String? = registry.withLock { r in
            if r.open.count >= configuration.maximumConnections {
                return "\(r.open.count) connections are open already (the server's limit)"
            }
            let same = r.perName[peer.name, default: 0]
            if same >= configuration.maximumConnectionsPerName {
                return "\(same) connections of '\(peer.name)' are open already (the limit per certificate name)"
            }
            r.open[serial] = peer
            r.perName[peer.name] = same + 1
            return nil
        }
        if let full {
            // One certificate can open connections as fast as handshakes go: condensed, per name.
            throttle.note("limit: \(peer.name)", source: label, fields: ["peer": peer.name], message: "refused \(peer): \(full)",
                          summary: { n, s, _ in "refused \(n) more connections of '\(peer.name)' in the last \(s) s: \(full)" })
            FrameServer.turnAway(channel, connection, full)
            return
        }
        workers.submit(key: serial, always: true) { [self] in welcome(peer, connection) }
    }

    /// Tells a refused peer why and closes the connection. The reply is a few hundred bytes on a fresh
    /// connection, so it fits the socket buffer; the short deadline only bounds a peer that reads nothing.
    private static func turnAway(_ channel: FrameChannel, _ connection: TLSConnection, _ reason: String) {
        try? channel.send(ErrorReply(.notAllowed, reason), id: 0, deadline: .after(seconds: 0.05))
        connection.close()
    }

    /// Closes the established connections whose certificates a changed revocation list revokes.
    private func closeRevokedConnections(seen generation: inout Int?) {
        guard let revocation = context.revocation else { return }
        let snapshot = revocation.current()
        guard snapshot.generation != generation else { return }
        generation = snapshot.generation
        closeConnections { peer in
            snapshot.revokedSerialNumbers.contains(peer.certificateSerial)
                ? "its certificate (serial \(peer.certificateSerial)) has been revoked" : nil
        }
    }

    /// Closes every established connection for which `reason` gives a reason (say, an allow-list
    /// reloaded without its name), logging each with that reason; returns how many were closed.
    @discardableResult
    public func closeConnections(reason: (PeerConnection) -> String?) -> Int {
        let chosen = registry.withLock { $0.open.values.compactMap { peer in reason(peer).map { (peer, $0) } } }
        for (peer, why) in chosen {
            // Closed before it is logged, so whoever reads the line can count on the connection being gone.
            peer.close()
            logger.warning("closed the connection of \(peer): \(why)", ["peer": peer.name, "serial": peer.certificateSerial])
        }
        return chosen.count
    }

    /// The soft descriptor limit less the descriptors open now, less a reserve for the rest of the process.
    static func descriptorBudget() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < rlim_t(Int32.max) else { return Int(Int32.max) }
        let soft = Int(limit.rlim_cur)
        let reserve = max(16, min(256, soft / 16))
        return max(1, soft - (ResourceUsage.openDescriptorCount() ?? 0) - reserve)
    }

    /// The soft limit on open descriptors, for log lines.
    static var descriptorLimit: String {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return "unknown" }
        return limit.rlim_cur == rlim_t.max ? "unlimited" : "\(limit.rlim_cur)"
    }

    // MARK: - Admitted connections

    /// On the connection's worker: asks the handler whether `peer` may stay, then serves it from the loop.
    private func welcome(_ peer: PeerConnection, _ connection: TLSConnection) {
        do {
            try handler.connected(peer)
        } catch {
            let reply = error as? ErrorReply ?? ErrorReply(.notAllowed, "\(error)")
            logger.warning("refused \(peer): \(reply.message)", ["peer": peer.name])
            try? peer.channel.send(reply, id: 0, deadline: .after(seconds: 2))
            connection.close()
            forget(peer)
            return
        }
        loop.add(peer, connection)
    }

    /// `peer`'s connection is over: it no longer counts against the limits.
    private func forget(_ peer: PeerConnection) {
        registry.withLock { r in
            r.open.removeValue(forKey: peer.serial)
            let left = r.perName[peer.name, default: 1] - 1
            r.perName[peer.name] = left > 0 ? left : nil
        }
    }
}

extension FrameServer {
    /// Why `peer` may not stay connected (its role or name), or nil when it may.
    func refusal(of peer: PeerConnection) -> String? {
        if let roles = configuration.allowedRoles {
            guard let role = peer.role else {
                return "the certificate of '\(peer.name)' carries no SwiftFL role; reissue it with a role: "
                    + "`fx pki certify --name \(peer.name) --role ROLE` or `fx pki sign --csr \(peer.name).csr --role ROLE` "
                    + "(this server takes \(CertificateRole.list(roles)))"
            }
            guard roles.contains(role) else {
                return "'\(peer.name)' holds a certificate of role \(role); this server takes \(CertificateRole.list(roles))"
            }
        }
        if let allowed = configuration.allowedPeers, !allowed.contains(peer.name) {
            return "certificate name '\(peer.name)' is not allowed on this server"
        }
        return nil
    }
}

extension PeerConnection {
    func responderFor(_ id: UInt32) -> Responder { Responder(peer: self, id: id) }
}
