import Foundation
import Testing
@testable import FLRoles
import FLWire

/// What the Director tells an Envoy asking for work, from what it knows and what the Envoy says it did.
@Suite struct DirectorStateTests {
    private func state(_ phase: DirectorState.Running.Phase, candidates: [String] = ["a", "b", "c"], participants: [String] = ["a", "b"],
                       sites: [SiteInfo] = []) -> DirectorState {
        let settings = DirectorSettings(sampleShape: [30], targetShape: [1], stateDirectory: "/nonexistent", certificateDirectory: "/nonexistent",
                                        aggregatorAddress: "fl.example.org")
        var s = DirectorState(settings: settings)
        s.restore(envoys: [], experiments: [
            ExperimentInfo(name: "old", status: .succeeded, archiveSHA256: "11", archiveSize: 1, submittedBy: "alice", submittedAt: 0),
            ExperimentInfo(name: "x", status: .running, archiveSHA256: "ab", archiveSize: 9, submittedBy: "alice", submittedAt: 0),
        ])
        if phase == .preparing { s.update("x") { $0.status = .preparing } }
        for site in sites { s.setSite("x", site.envoy, site.state) }
        s.running["x"] = DirectorState.Running(name: "x", phase: phase, candidates: candidates, participants: participants, launch: 2)
        return s
    }

    private func ask(_ experiment: String = "", _ launch: Int = 0, _ state: SiteWorkState = .idle) -> WorkRequest {
        WorkRequest(experiment: experiment, launch: launch, state: state, maximumWaitSeconds: 30)
    }

    @Test func offersGoToCandidatesThatHaveNotDecided() {
        let s = state(.preparing, sites: [SiteInfo(envoy: "a", state: .offered), SiteInfo(envoy: "b", state: .accepted),
                                          SiteInfo(envoy: "c", state: .offered)])
        let offer = s.assignment(for: "a", ask())
        #expect(offer?.action == .offer && offer?.experiment == "x" && offer?.archiveSHA256 == "ab" && offer?.archiveSize == 9)
        #expect(s.assignment(for: "b", ask()) == nil)  // decided
        // It says it decided, but no decision reached this Director (it restarted since): offered again.
        #expect(s.assignment(for: "c", ask("x", 0, .decided))?.action == .offer)
        #expect(s.assignment(for: "d", ask()) == nil)  // came online after the offer went out
        // A site still running the previous experiment's collaborator is told to stop it first.
        let stop = s.assignment(for: "a", ask("old", 1, .running))
        #expect(stop?.action == .stop && stop?.experiment == "old" && stop?.reason == "experiment succeeded")
    }

    @Test func participantsAreToldWhereTheAggregatorIsOncePerLaunch() {
        let s = state(.running(port: 50123))
        let run = s.assignment(for: "a", ask("x", 0, .decided))
        #expect(run?.action == .run && run?.launch == 2 && run?.aggregatorHost == "fl.example.org" && run?.aggregatorPort == 50123)
        #expect(run?.collaborators == ["a", "b"] && run?.aggregatorName == "aggregator")
        #expect(s.assignment(for: "a", ask("x", 2, .running)) == nil)
        #expect(s.assignment(for: "a", ask("x", 2, .exited)) == nil)  // a collaborator that died is not restarted in a loop
        #expect(s.assignment(for: "b", ask("x", 1, .running))?.action == .run)  // from before the aggregator restarted
        #expect(s.assignment(for: "b", ask())?.action == .run)  // a restarted Envoy is handed the running experiment
        #expect(s.assignment(for: "c", ask("x", 0, .decided)) == nil)  // refused or absent: not a participant
        #expect(state(.starting).assignment(for: "a", ask("x", 1, .running)) == nil)  // the new aggregator is not listening yet
    }

    @Test func collaboratorsOfEndedExperimentsAreStopped() {
        var s = state(.running(port: 1))
        s.running = [:]
        let stop = s.assignment(for: "a", ask("x", 2, .running))
        #expect(stop?.action == .stop && stop?.reason == "this site no longer takes part")
        #expect(s.assignment(for: "a", ask("gone", 1, .running))?.reason == "unknown experiment")
        #expect(s.assignment(for: "a", ask("x", 2, .exited)) == nil)
    }
}

extension DirectorStateTests {
    /// What `fx envoy list` is told of each Envoy's capacity and running collaborators.
    @Test func capacityIsKnownOnceRegisteredAndRunningOnceHeartbeating() {
        let shard = ShardDescriptor(path: "a.csv", labelColumn: "label", sampleShape: [30], targetShape: [1], sampleCount: 10)
        var s = DirectorState(settings: DirectorSettings(sampleShape: [30], targetShape: [1], stateDirectory: "/nonexistent",
                                                         certificateDirectory: "/nonexistent"))
        // Three Envoys known from before a restart: "a" registered since with capacity 3 and heartbeats,
        // "b" registered but has not sent a heartbeat yet, "c" has not come back.
        s.restore(envoys: ["c", "b", "a"].map { EnvoyRecord(name: $0, shard: shard, registeredAt: 0, lastRegistration: 0) }, experiments: [])
        s.envoys["a"]!.lastHeard = .now
        s.envoys["a"]!.capacity = 3
        s.envoys["a"]!.heartbeat = EnvoyHeartbeat(cpuPercent: 0, residentBytes: 0, availableBytes: 0, collaboratorRunning: true,
                                                  experiment: "x", running: ["x", "y"])
        s.envoys["b"]!.lastHeard = .now
        #expect(s.envoyInfo().map(\.name) == ["a", "b", "c"])
        #expect(s.envoySlots() == [EnvoySlots(capacity: 3, running: ["x", "y"]), EnvoySlots(capacity: 1, running: nil),
                                   EnvoySlots(capacity: nil, running: nil)])
    }
}
