import Foundation
import FLCore
import FLWire

/// Which experiments start now: first come, first served, with backfill.
///
/// Experiments are considered in order: first those that were running when the Director stopped
/// (they resume), then the queue in submission order. Each one *wants* a set of Envoys: a resumed
/// one its collaborators, a queued one those it was submitted for (`--envoys`) that are online, or
/// every Envoy online now when it named none. It can start when
/// - fewer than `experiments.max_concurrent` experiments are being run,
/// - an aggregator port is free (when `aggregators.ports` or `aggregators.port` names them),
/// - at least `envoys.minimum` Envoys it wants are online (or all it named, when it named fewer) and,
///   within the start-up grace, the Envoys known before the start that it wants (for a resumed one:
///   its collaborators) are back,
/// - every Envoy it wants has a free slot: fewer experiments booked on it than its `capacity`
///   (an experiment books its candidates while they decide, then its participants until it ends).
///
/// Backfill: an experiment further back may start before one ahead of it only when that cannot
/// delay the one ahead, which is taken to mean: it wants none of the Envoys any experiment ahead of
/// it is waiting for (their slots stay free for it), and no experiment ahead of it is waiting for a
/// port or for the concurrency limit (which a later one would otherwise take). So an experiment for
/// other sites than the one ahead (`--envoys`) goes first, as does a resumed experiment whose sites
/// are back while another waits for its own.
extension DirectorState {
    /// An experiment the runner should run now (it is in `running` already, holding its slots and port).
    struct Start: Equatable {
        var name: String
        var resume: Bool
    }

    /// Experiments booked on each Envoy now.
    func bookedSlots() -> [String: Int] {
        var slots: [String: Int] = [:]
        for r in running.values { for e in r.booked { slots[e, default: 0] += 1 } }
        return slots
    }

    /// Whether `envoy` can take one more experiment.
    func hasFreeSlot(_ envoy: String, _ slots: [String: Int]) -> Bool {
        slots[envoy, default: 0] < (envoys[envoy]?.capacity ?? 1)
    }

    /// The first aggregator port of the range that no experiment being run holds; 0 when the
    /// system picks ports; nil when every port of the range is taken.
    func freePort(_ settings: DirectorSettings) -> Int? {
        guard let range = settings.aggregatorPortRange else { return 0 }
        let taken = Set(running.values.map(\.port))
        return range.first { !taken.contains($0) }
    }

    /// Takes every experiment that can start now into `running` (holding its Envoys' slots and its
    /// port) and returns them, with what the first experiment left waiting waits for ("" when none).
    /// `settings` are those in force now (a reload changes the limits and the grace).
    mutating func schedule(_ settings: DirectorSettings, now: Deadline = .now) -> (starts: [Start], waiting: String) {
        let candidates = experiments.filter { $0.status == .running && running[$0.name] == nil }.map { Start(name: $0.name, resume: true) }
            + experiments.filter { $0.status == .queued && running[$0.name] == nil }.map { Start(name: $0.name, resume: false) }
        // The scheduler runs after every change (an Envoy going online is one): with nothing to
        // start it must not cost a pass over every Envoy.
        guard !candidates.isEmpty else { return ([], "") }
        let online = onlineEnvoys(now: now)
        let graceLeft = settings.startupGrace - Double(now.uptimeNanoseconds &- startedAt.uptimeNanoseconds) / 1e9
        var starts: [Start] = []
        var waiting = ""
        // Envoys that an experiment ahead waits for: none further back may take their slots.
        var reserved: Set<String> = []
        for next in candidates {
            guard let x = experiment(next.name) else { continue }
            func wait(_ why: String) { if waiting.isEmpty { waiting = "experiment '\(x.name)': \(why)" } }
            if running.count >= settings.maximumConcurrent {
                wait("\(running.count) experiments are running, the most at once (experiments.max_concurrent)")
                break
            }
            guard let port = freePort(settings) else {
                wait("every aggregator port (aggregators.ports) is taken")
                break
            }
            let named = next.resume ? [] : requestedEnvoys[x.name] ?? []
            let wanted = next.resume ? x.collaborators : named.isEmpty ? online : named.filter(online.contains)
            let expected = next.resume ? Set(x.collaborators) : named.isEmpty ? expectedEnvoys : Set(named)
            let missing = expected.subtracting(online).sorted()
            let slots = bookedSlots()
            let busy = wanted.filter { !hasFreeSlot($0, slots) || reserved.contains($0) }
            let needed = named.isEmpty ? settings.minimumEnvoys : min(settings.minimumEnvoys, named.count)
            if !next.resume && wanted.count < needed {
                wait("\(wanted.count) of the \(needed) envoys needed online" + (named.isEmpty ? "" : " (of \(named.joined(separator: ", ")))"))
            } else if !missing.isEmpty && graceLeft > 0 {
                wait("waiting up to \(Int(graceLeft.rounded(.up))) s for \(missing.joined(separator: ", ")) to reconnect")
            } else if !busy.isEmpty {
                wait("waiting for a free slot at \(busy.joined(separator: ", "))")
            } else {
                starts.append(next)
                if next.resume {
                    running[x.name] = Running(name: x.name, phase: .starting, candidates: x.collaborators, participants: x.collaborators,
                                              launch: x.launches, port: port)
                } else {
                    offer(x.name, to: wanted, port: port)
                }
                continue
            }
            reserved.formUnion(wanted)
            reserved.formUnion(missing)
            reserved.formUnion(named)
        }
        return (starts, waiting)
    }

    /// Offers a queued experiment to `envoys`, in the same change that schedules it, so nothing
    /// (a cancel, another pass of the scheduler) sees it queued and running at once.
    private mutating func offer(_ name: String, to envoys: [String], port: Int) {
        running[name] = Running(name: name, phase: .preparing, candidates: envoys, port: port)
        requestedEnvoys[name] = nil
        update(name) { x in
            x.status = .preparing
            x.startedAt = Date().timeIntervalSince1970
            x.sites = envoys.map { SiteInfo(envoy: $0, state: .offered) }
        }
        renumberQueue()
        events.append(.experimentOffered(experiment: name, envoys: envoys))
        serveWaiters()
    }
}
