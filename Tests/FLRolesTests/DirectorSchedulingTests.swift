import Foundation
import Testing
@testable import FLRoles
import FLWire

/// Which experiments the Director starts: first come, first served, with backfill, within the
/// Envoys' capacities, the concurrency limit and the aggregator ports.
@Suite struct DirectorSchedulingTests {
    private static let shard = ShardDescriptor(path: "a.csv", labelColumn: "label", sampleShape: [30], targetShape: [1], sampleCount: 10)

    /// A state with `envoys` online (name → capacity) and `experiments` queued, in that order.
    private func state(envoys: [String: Int], queued: [String], running: [(String, [String])] = [], maximumConcurrent: Int = 4,
                       ports: ClosedRange<Int>? = nil, known: [String] = [], grace: Double = 0) -> DirectorState {
        var settings = DirectorSettings(sampleShape: [30], targetShape: [1], startupGrace: grace, stateDirectory: "/nonexistent",
                                        certificateDirectory: "/nonexistent")
        settings.maximumConcurrent = maximumConcurrent
        settings.aggregatorPorts = ports
        var s = DirectorState(settings: settings)
        let records = known.map { EnvoyRecord(name: $0, shard: Self.shard, registeredAt: 0, lastRegistration: 0) }
        let resumed = running.map { name, collaborators in
            ExperimentInfo(name: name, status: .running, archiveSHA256: "ab", archiveSize: 1, submittedBy: "alice", submittedAt: 0,
                           collaborators: collaborators)
        }
        s.restore(envoys: records, experiments: resumed + queued.map {
            ExperimentInfo(name: $0, archiveSHA256: "ab", archiveSize: 1, submittedBy: "alice", submittedAt: 0)
        })
        for (name, capacity) in envoys { online(&s, name, capacity: capacity) }
        return s
    }

    private func online(_ s: inout DirectorState, _ name: String, capacity: Int = 1) {
        var e = s.envoys[name] ?? DirectorState.Envoy(record: EnvoyRecord(name: name, shard: Self.shard, registeredAt: 0, lastRegistration: 0))
        e.connection = 1
        e.lastHeard = .now
        e.capacity = capacity
        s.envoys[name] = e
    }

    /// What `Director.finish` does to the state: the experiment has ended and holds nothing.
    private func end(_ s: inout DirectorState, _ name: String) {
        s.update(name) { $0.status = .succeeded }
        s.running[name] = nil
    }

    private func names(_ starts: [DirectorState.Start]) -> [String] { starts.map(\.name) }

    @Test func envoysWithRoomForTwoRunTwoExperimentsAtOnce() {
        var s = state(envoys: ["a": 2, "b": 2], queued: ["x", "y", "z"])
        let (starts, waiting) = s.schedule(s.settings)
        #expect(names(starts) == ["x", "y"])
        #expect(waiting == "experiment 'z': waiting for a free slot at a, b")
        #expect(s.running["x"]?.candidates == ["a", "b"] && s.running["y"]?.phase == .preparing)
        #expect(s.schedule(s.settings).starts.isEmpty)
        // One ends: its slots are free, and the third starts.
        end(&s, "x")
        #expect(names(s.schedule(s.settings).starts) == ["z"])
    }

    @Test func anEnvoyOfCapacityOneIsNeverBookedTwice() {
        var s = state(envoys: ["a": 1, "b": 2], queued: ["x", "y"])
        #expect(names(s.schedule(s.settings).starts) == ["x"])
        #expect(s.schedule(s.settings).waiting == "experiment 'y': waiting for a free slot at a")
        // Once `a` refused and the others started, `a` is free, but `b` has room: `y` starts on both.
        s.running["x"]!.participants = ["b"]
        s.running["x"]!.phase = .starting
        #expect(names(s.schedule(s.settings).starts) == ["y"])
        #expect(s.bookedSlots() == ["a": 1, "b": 2])
    }

    @Test func theConcurrencyLimitAndThePortsHoldTheQueue() {
        var limited = state(envoys: ["a": 4], queued: ["x", "y"], maximumConcurrent: 1)
        #expect(names(limited.schedule(limited.settings).starts) == ["x"])
        #expect(limited.schedule(limited.settings).waiting.hasSuffix("the most at once (experiments.max_concurrent)"))

        var ports = state(envoys: ["a": 4], queued: ["x", "y", "z"], ports: 50100...50101)
        #expect(names(ports.schedule(ports.settings).starts) == ["x", "y"])
        #expect(ports.running["x"]?.port == 50100 && ports.running["y"]?.port == 50101)
        #expect(ports.schedule(ports.settings).waiting == "experiment 'z': every aggregator port (aggregators.ports) is taken")
        // The port of the one that ended is taken again.
        end(&ports, "x")
        #expect(names(ports.schedule(ports.settings).starts) == ["z"])
        #expect(ports.running["z"]?.port == 50100)
        // Without a range, the system picks the port (0 here) and ports never hold anything.
        var free = state(envoys: ["a": 4], queued: ["x", "y"])
        _ = free.schedule(free.settings)
        #expect(free.running.values.map(\.port) == [0, 0])
    }

    @Test func everyExperimentThatWasRunningResumesFirst() {
        var s = state(envoys: ["a": 2, "b": 2], queued: ["q"], running: [("r1", ["a"]), ("r2", ["a", "b"])])
        let starts = s.schedule(s.settings).starts
        #expect(starts == [DirectorState.Start(name: "r1", resume: true), DirectorState.Start(name: "r2", resume: true)])
        #expect(s.running["r2"]?.participants == ["a", "b"] && s.running["r2"]?.phase == .starting)
        // `a` has no room left for the queued one.
        #expect(s.schedule(s.settings).waiting == "experiment 'q': waiting for a free slot at a")
    }

    /// Backfill: a later experiment starts before one ahead only when it wants none of the Envoys
    /// that one waits for.
    @Test func aLaterExperimentStartsFirstOnlyWhenItCannotDelayTheOneAhead() {
        // `r1` waits (within the grace) for `c` to reconnect; `r2`, on `b` alone, goes ahead.
        var s = state(envoys: ["a": 1, "b": 1], queued: ["q"], running: [("r1", ["a", "c"]), ("r2", ["b"])], known: ["a", "b", "c"], grace: 60)
        let (starts, waiting) = s.schedule(s.settings)
        #expect(names(starts) == ["r2"])
        #expect(waiting.hasPrefix("experiment 'r1': waiting up to") && waiting.hasSuffix("s for c to reconnect"))
        // `q` would take `a`, which `r1` waits for: it waits too.
        #expect(s.running["q"] == nil)
        // `c` is back: `r1` resumes; `q` still waits for room at `a` and `b`.
        online(&s, "c")
        #expect(names(s.schedule(s.settings).starts) == ["r1"])
    }

    /// Backfill with experiments submitted for some sites (`--envoys`): one for other sites than those
    /// the head waits for starts first; one that shares a site with the head waits behind it.
    @Test func anExperimentForOtherSitesStartsBeforeTheHead() {
        var s = state(envoys: ["a": 1, "b": 1, "c": 1], queued: ["first", "head", "shares", "other"])
        s.requestedEnvoys = ["first": ["a"], "head": ["a", "b"], "shares": ["b"], "other": ["c"]]
        let (starts, waiting) = s.schedule(s.settings)
        #expect(names(starts) == ["first", "other"])
        #expect(waiting == "experiment 'head': waiting for a free slot at a")
        #expect(s.running["first"]?.candidates == ["a"] && s.running["other"]?.candidates == ["c"])
        // `b` is free, but the head waits for it too: `shares` may not take it.
        #expect(s.running["shares"] == nil)
        end(&s, "first")
        #expect(names(s.schedule(s.settings).starts) == ["head"])
        #expect(s.running["head"]?.candidates == ["a", "b"])
        // An experiment for a site that is not online waits for it.
        var offline = state(envoys: ["a": 1], queued: ["x"])
        offline.requestedEnvoys = ["x": ["z"]]
        #expect(offline.schedule(offline.settings).waiting == "experiment 'x': 0 of the 1 envoys needed online (of z)")
    }

    @Test func theQueueWaitsForEnoughEnvoys() {
        var settings = DirectorSettings(sampleShape: [30], targetShape: [1], minimumEnvoys: 2, startupGrace: 0, stateDirectory: "/nonexistent",
                                        certificateDirectory: "/nonexistent")
        settings.maximumConcurrent = 4
        var s = DirectorState(settings: settings)
        s.restore(envoys: [], experiments: [ExperimentInfo(name: "x", archiveSHA256: "ab", archiveSize: 1, submittedBy: "alice", submittedAt: 0)])
        online(&s, "a")
        #expect(s.schedule(settings).waiting == "experiment 'x': 1 of the 2 envoys needed online")
        online(&s, "b")
        #expect(names(s.schedule(settings).starts) == ["x"])
    }
}
