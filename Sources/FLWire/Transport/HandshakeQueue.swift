/// The TLS handshakes a server has under way, oldest first, and the limits on how many: in all, and
/// from one IP address. A newcomer over a limit takes the place of the oldest pending connection
/// (from its address, for the address limit) that has sent nothing yet; only when every one of
/// them has sent something is the newcomer turned away. Idle connections so never keep out a peer
/// that speaks at once, which every honest client does.
///
/// Entries are kept in arrival order, which is also deadline order (every handshake gets the same
/// timeout). Owned by the server's accept thread alone.
struct HandshakeQueue {
    /// What became of a newcomer.
    enum Admission {
        case admitted
        /// Admitted in place of `evicted`, which is done and must be discarded; `reason` names the limit.
        case admittedEvicting(PendingHandshake, reason: String)
        /// Not admitted; `reason` names the limit.
        case refused(reason: String)
    }

    let limit: Int
    let perAddressLimit: Int
    private(set) var entries: [PendingHandshake] = []
    private var perAddress: [String: Int] = [:]

    init(limit: Int, perAddressLimit: Int) {
        self.limit = max(1, limit)
        self.perAddressLimit = max(1, perAddressLimit)
        entries.reserveCapacity(min(self.limit, 4096))
    }

    var count: Int { entries.count }

    /// Handshakes pending from `host`.
    func count(from host: String) -> Int { perAddress[host, default: 0] }

    /// The oldest pending handshake; its deadline is the nearest.
    var oldest: PendingHandshake? { entries.first }

    /// Adds `entry` within the limits, evicting an idle connection if it must.
    mutating func admit(_ entry: PendingHandshake) -> Admission {
        let fromHost = count(from: entry.host)
        var outcome = Admission.admitted
        if fromHost >= perAddressLimit {
            let reason = "\(fromHost) handshakes pending from \(entry.host) (the limit per address)"
            guard let victim = removeOldestIdle(from: entry.host) else { return .refused(reason: reason + ", none of them idle") }
            outcome = .admittedEvicting(victim, reason: reason)
        } else if entries.count >= limit {
            let reason = "\(entries.count) handshakes pending (the limit)"
            guard let victim = removeOldestIdle(from: nil) else { return .refused(reason: reason + ", none of them idle") }
            outcome = .admittedEvicting(victim, reason: reason)
        }
        entries.append(entry)
        perAddress[entry.host, default: 0] += 1
        return outcome
    }

    /// Takes out the oldest connection (from `host`, or from anyone) that has sent nothing yet.
    mutating func removeOldestIdle(from host: String?) -> PendingHandshake? {
        guard let index = entries.firstIndex(where: { !$0.isDone && (host == nil || $0.host == host) && $0.isIdle }) else { return nil }
        let victim = entries.remove(at: index)
        forget(victim)
        victim.isDone = true
        return victim
    }

    /// Takes out every entry marked done.
    mutating func removeDone() {
        guard entries.contains(where: \.isDone) else { return }
        for entry in entries where entry.isDone { forget(entry) }
        entries.removeAll(where: \.isDone)
    }

    /// Takes out and returns the entries whose deadline has passed.
    mutating func removeExpired() -> [PendingHandshake] {
        guard let first = entries.first, first.deadline.hasPassed else { return [] }
        let end = entries.firstIndex { !$0.deadline.hasPassed } ?? entries.count
        let expired = Array(entries[..<end])
        entries.removeFirst(end)
        for entry in expired { forget(entry) }
        return expired
    }

    /// Takes out every entry.
    mutating func removeAll() -> [PendingHandshake] {
        defer {
            entries.removeAll()
            perAddress.removeAll()
        }
        return entries
    }

    private mutating func forget(_ entry: PendingHandshake) {
        let left = perAddress[entry.host, default: 1] - 1
        perAddress[entry.host] = left > 0 ? left : nil
    }
}
