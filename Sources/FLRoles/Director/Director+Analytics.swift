import Foundation
import FLCore
import FLWire

// Federated analytics at the Director: queries from data scientists, handed to the online Envoys
// as answers to their held requests for work, their answers checked and combined, results kept
// (`analytics/<id>.json` in the state folder) and read back by their submitter or an admin.
extension Director {
    /// Writes results off the request threads, one at a time, in the order they completed.
    static let analyticsWrites = DispatchQueue(label: "swiftfl.director.analytics")

    /// Waits until every completed result is written to the state folder.
    public func synchronizeAnalytics() { Director.analyticsWrites.sync {} }

    /// Where query `id`'s result is kept.
    func analyticsPath(_ id: String) -> String { "\(store.root)/analytics/\(id).json" }

    func submitAnalytics(_ m: SubmitAnalytics, _ request: Request) {
        let user = request.peer.name
        let id = "q" + String(UInt64.random(in: 1 << 40..<1 << 44), radix: 16)
        let outcome: String? = mutate { s in
            let labelColumns = Set(s.envoys.values.map(\.record.shard.labelColumn))
            do { try m.query.check(labelColumns: labelColumns, featureCount: settings.sampleShape.reduce(1, *)) } catch {
                Director.refusal(&s, request, .badRequest, "the query is refused: \(error)")
                return nil
            }
            let sites = s.onlineEnvoys()
            guard !sites.isEmpty else {
                Director.refusal(&s, request, .conflict, "no Envoy is online to answer the query")
                return nil
            }
            let started = analytics.withLock { a in
                a.open(id: id, query: m.query, submittedBy: user, at: Date().timeIntervalSince1970, sites: sites)
            }
            // Envoys waiting for work get the query at once; the others with their next request.
            for waiter in s.waiters.take(where: { sites.contains($0.envoy) }) {
                if let task = analytics.withLock({ $0.takeTask(for: waiter.envoy) }) {
                    s.outbox.append((waiter.responder, task))
                } else {
                    s.outbox.append((waiter.responder, WorkAssignment(action: .wait)))
                }
            }
            s.outbox.append((request.responder, AnalyticsResultReply(result: started)))
            return id
        }
        guard let id = outcome else { return }
        logger.info("analytics query \(id) from '\(user)' asked of the online Envoys")
        timers.asyncAfter(deadline: .now() + m.query.deadlineSeconds) { [weak self] in
            guard let self, let result = analytics.withLock({ $0.expire(id, at: Date().timeIntervalSince1970) }) else { return }
            completed(result)
        }
    }

    func analyticsAnswer(_ m: AnalyticsAnswer, _ request: Request) {
        let peer = request.peer
        guard state.withLock({ registered($0, peer) }) else {
            return refuse(request, .unknownPeer, "this Director does not know you (it may have restarted): register first")
        }
        // Checked off the lock: it costs more than everything else an answer does at the Director.
        let problem = analytics.withLock { $0.query(m.id) }.flatMap { AnalyticsCombiner.problem(in: m.cells, for: $0) }
        switch analytics.withLock({ $0.accept(m, from: peer.name, problem: problem, at: Date().timeIntervalSince1970) }) {
        case let .taken(result):
            request.responder.reply(OkReply())
            if let result { completed(result) }
        case let .refused(reason, result):
            refuse(request, .rejected, reason)
            if let result { completed(result) }
        }
    }

    func analyticsResult(_ m: AnalyticsResultRequest, _ request: Request) {
        let wait = min(m.maximumWaitSeconds, settings.longPollSeconds)
        guard let found = analytics.withLock({ $0.result(m.id) }) ?? readAnalytics(m.id) else {
            return request.responder.fail(.notFound, "no analytics query '\(m.id)'")
        }
        guard request.peer.role == .admin || (request.peer.role == .user && found.submittedBy == request.peer.name) else {
            return refuse(request, .notAllowed, "analytics query '\(m.id)' belongs to '\(found.submittedBy)'; only its submitter or an admin may read it")
        }
        let token: UInt64? = analytics.withLock { a in
            guard let current = a.result(m.id), !current.isComplete, wait > 0 else { return nil }
            return a.waiters.hold(AnalyticsLedger.Waiter(id: m.id, responder: request.responder))
        }
        guard let token else {
            return request.responder.reply(AnalyticsResultReply(result: analytics.withLock { $0.result(m.id) } ?? found))
        }
        timers.asyncAfter(deadline: .now() + wait) { [weak self] in
            guard let self, let waiter = analytics.withLock({ $0.waiters.take(token) }),
                  let result = analytics.withLock({ $0.result(waiter.id) }) else { return }
            waiter.responder.post(AnalyticsResultReply(result: result))
        }
    }

    /// A query is complete: its file is written, and those waiting for it are answered.
    private func completed(_ result: AnalyticsResult) {
        let waiting = analytics.withLock { $0.waiters.take(where: { $0.id == result.id }) }
        let answered = result.sites.filter { $0.state == .answered }.count
        logger.info("analytics query \(result.id) complete: \(answered) of \(result.sites.count) sites answered, \(result.cells.count) cells")
        let path = analyticsPath(result.id)
        Director.analyticsWrites.async { [logger] in
            do {
                try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try AtomicFile.write(try JSONCoding.encoder(.pretty).encode(result), to: path)
            } catch {
                logger.error("cannot keep the result of analytics query \(result.id): \(error)")
            }
        }
        for waiter in waiting { waiter.responder.post(AnalyticsResultReply(result: result)) }
    }

    /// A result kept by an earlier run of the Director, or nil.
    private func readAnalytics(_ id: String) -> AnalyticsResult? {
        // Ids are the Director's own: letters and digits only, so never a path.
        guard !id.isEmpty, id.count <= 64, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }),
              let data = FileManager.default.contents(atPath: analyticsPath(id)),
              let result = try? JSONCoding.decoder().decode(AnalyticsResult.self, from: data) else { return nil }
        analytics.withLock { $0.remember(result) }
        return result
    }
}
