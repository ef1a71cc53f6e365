import Foundation
import Testing
import FLCore
import FLRoles
import FLTesting
import FLWire

/// Several experiments at once, with real Envoys, aggregators and collaborators: shared sites of
/// capacity 2, sites of capacity 1 never booked twice, the aggregator port range, and cancelling
/// one experiment while another runs.
@Suite(.serialized) struct DirectorConcurrencyTests {
    private static let sites = ["hospital_a", "hospital_b"]

    /// A federation of two sites of `capacity`, whose Director needs both online before anything starts
    /// (so experiments submitted first start together).
    private func federation(capacity: Int, ports: String? = nil) throws -> InProcessFederation {
        let fixture = try DirectorFixture(envoys: Self.sites)
        try fixture.configureConcurrency(maximumConcurrent: 4, aggregatorPorts: ports, minimumEnvoys: 2)
        for site in Self.sites { try fixture.setCapacity(capacity, of: site) }
        return try InProcessFederation(envoys: [], fixture: fixture)
    }

    private func startSites(_ federation: InProcessFederation) throws {
        for site in Self.sites { try federation.startEnvoy(site) }
    }

    /// Where in the event history the first event matching `predicate` is.
    private func index(_ events: [DirectorEvent], _ what: String, _ predicate: (DirectorEvent) -> Bool) throws -> Int {
        let found = events.firstIndex(where: predicate)
        return try #require(found, "no \(what)")
    }

    private func started(_ name: String) -> (DirectorEvent) -> Bool {
        { if case let .experimentStarted(x, _, _, _) = $0 { x == name } else { false } }
    }

    private func offered(_ name: String) -> (DirectorEvent) -> Bool {
        { if case let .experimentOffered(x, _) = $0 { x == name } else { false } }
    }

    private func finished(_ name: String) -> (DirectorEvent) -> Bool {
        { if case let .experimentFinished(x, _, _) = $0 { x == name } else { false } }
    }

    @Test func twoExperimentsRunAtOnceOnSitesOfCapacityTwo() throws {
        let federation = try federation(capacity: 2)
        defer { federation.shutdown() }
        let workspace = try federation.fixture.makeWorkspace("shared", rounds: 10)
        _ = try federation.submit(workspace, as: "x")
        _ = try federation.submit(workspace, as: "y")
        try startSites(federation)
        for name in ["x", "y"] {
            let (status, reason) = try federation.events.waitForFinish(name, timeout: 120)
            #expect(status == .succeeded, "\(name): \(reason)")
        }
        // Both were running at once: each started before the other finished.
        let events = federation.events.all
        #expect(try index(events, "start of y", started("y")) < index(events, "end of x", finished("x")))
        #expect(try index(events, "start of x", started("x")) < index(events, "end of y", finished("y")))
        let client = try federation.client()
        for name in ["x", "y"] {
            let info = try client.status(name)
            #expect(info.collaborators == Self.sites && info.roundsCompleted == 10)
            #expect(info.rounds.filter { !$0.finalValidation && !$0.bestValidation }.allSatisfy { $0.reported == Self.sites })
            #expect(FileManager.default.fileExists(atPath: federation.director.store.modelPath(of: name, .best)))
            let downloaded = federation.fixture.directory.appending("\(name)-best.safetensors")
            #expect(try client.model(name, .best, to: downloaded) > 0)
            #expect(try Safetensors.read(downloaded).model.layout.count > 0)
        }
        // Each site ran both collaborators, each against its own aggregator.
        let ports = events.compactMap { if case let .experimentStarted(_, _, port, _) = $0 { port } else { nil } }
        #expect(Set(ports).count == 2)
        let audit = try AuditLog.read(federation.fixture.auditLogPath("hospital_a"))
        #expect(Set(audit.filter { $0.decision == .started }.map(\.experiment)) == ["x", "y"])
    }

    /// What `fx envoy list` shows: each site's capacity, and both experiments' collaborators running
    /// there while they run. Each task holds 0.3 s (simulated compute), so a round outlasts several
    /// 0.2 s heartbeats; the list is read again after each round of 'x' until a heartbeat has told.
    @Test func theEnvoyListShowsEachSitesCapacityAndTheCollaboratorsRunningThere() throws {
        let federation = try federation(capacity: 2)
        defer { federation.shutdown() }
        let rounds = 4
        let workspace = try federation.fixture.makeNoopWorkspace("slow", rounds: rounds, parameters: 10, secondsPerTask: 0.3)
        _ = try federation.submit(workspace, as: "x")
        _ = try federation.submit(workspace, as: "y")
        let client = try federation.client()
        try startSites(federation)
        var list = try client.envoys()
        var seen = Int.min
        for _ in 0..<rounds {
            let closed = try federation.events.wait(timeout: 60, "a round of 'x' after \(seen)") {
                if case let .roundClosed(name, info) = $0 { return name == "x" && info.round > seen }
                return false
            }
            if case let .roundClosed(_, info) = closed { seen = info.round }
            list = try client.envoys()
            if list.slots.allSatisfy({ Set($0.running ?? []) == ["x", "y"] }) { break }
        }
        #expect(list.envoys.map(\.name) == Self.sites)
        #expect(list.slots.map(\.capacity) == [2, 2])
        #expect(list.slots.map { Set($0.running ?? []) } == [["x", "y"], ["x", "y"]], "\(list.slots)")
        for name in ["x", "y"] { #expect(try federation.events.waitForFinish(name, timeout: 120).0 == .succeeded) }
    }

    @Test func aSiteOfCapacityOneIsNeverBookedTwice() throws {
        let federation = try federation(capacity: 1)
        defer { federation.shutdown() }
        let workspace = try federation.fixture.makeWorkspace("single", rounds: 3)
        _ = try federation.submit(workspace, as: "x")
        _ = try federation.submit(workspace, as: "y")
        try startSites(federation)
        #expect(try federation.events.waitForFinish("x", timeout: 120).0 == .succeeded)
        #expect(try federation.events.waitForFinish("y", timeout: 120).0 == .succeeded)
        // The second waited for the sites: it was offered only once the first had ended.
        let events = federation.events.all
        #expect(try index(events, "end of x", finished("x")) < index(events, "offer of y", offered("y")))
        #expect(try federation.client().status("y").collaborators == Self.sites)
    }

    @Test func aRangeOfOnePortRunsOneAggregatorAtATime() throws {
        let port = try ServiceTests.unusedPort()
        let federation = try federation(capacity: 2, ports: "\(port)-\(port)")
        defer { federation.shutdown() }
        let workspace = try federation.fixture.makeWorkspace("ported", rounds: 3)
        _ = try federation.submit(workspace, as: "x")
        _ = try federation.submit(workspace, as: "y")
        try startSites(federation)
        #expect(try federation.events.waitForFinish("x", timeout: 120).0 == .succeeded)
        #expect(try federation.events.waitForFinish("y", timeout: 120).0 == .succeeded)
        let events = federation.events.all
        // The sites had room for both; the port had not: the second waited until the first's aggregator exited.
        #expect(try index(events, "end of x", finished("x")) < index(events, "offer of y", offered("y")))
        let ports = events.compactMap { if case let .experimentStarted(_, _, port, _) = $0 { port } else { nil } }
        #expect(ports == [port, port])
    }

    @Test func cancellingOneExperimentLeavesTheOtherRunning() throws {
        let federation = try federation(capacity: 2)
        defer { federation.shutdown() }
        let long = try federation.fixture.makeWorkspace("long", rounds: 10_000)
        let short = try federation.fixture.makeWorkspace("short", rounds: 8)
        _ = try federation.submit(long, as: "long")
        _ = try federation.submit(short, as: "short")
        try startSites(federation)
        try federation.events.wait(timeout: 60, "a round of 'long'") {
            if case let .roundClosed(name, _) = $0 { return name == "long" }
            return false
        }
        try federation.events.wait(timeout: 60, "the start of 'short'", where: started("short"))
        let client = try federation.client()
        _ = try client.cancel("long")
        #expect(try federation.events.waitForFinish("long").0 == .cancelled)
        let (status, reason) = try federation.events.waitForFinish("short", timeout: 120)
        #expect(status == .succeeded, "\(reason)")
        // The sites stopped the cancelled experiment's collaborators only: every round of 'short' heard both.
        let info = try client.status("short")
        #expect(info.roundsCompleted == 8)
        #expect(info.rounds.filter { !$0.finalValidation && !$0.bestValidation }.allSatisfy { $0.reported == Self.sites && $0.missing.isEmpty })
        #expect(info.sites.allSatisfy { $0.state == .finished }, "\(info.sites)")
        #expect(try client.status("long").status == .cancelled)
    }

    /// Experiments submitted for some sites: one for a site the waiting head does not need starts
    /// (and ends) before it; the head runs once the site it waits for is free.
    @Test func anExperimentForOtherSitesGoesAheadOfOneThatWaits() throws {
        let federation = try federation(capacity: 1)
        defer { federation.shutdown() }
        try startSites(federation)
        let client = try federation.client()
        let long = try federation.fixture.makeWorkspace("long", rounds: 10_000)
        let short = try federation.fixture.makeWorkspace("short", rounds: 3)
        _ = try client.submit(workspace: Workspace(root: long), name: "long", envoys: ["hospital_a"])
        try federation.events.wait(timeout: 60, "the start of 'long'", where: started("long"))
        _ = try client.submit(workspace: Workspace(root: short), name: "head", envoys: ["hospital_a"])
        _ = try client.submit(workspace: Workspace(root: short), name: "other", envoys: ["hospital_b"])
        let (status, reason) = try federation.events.waitForFinish("other", timeout: 120)
        #expect(status == .succeeded, "\(reason)")
        #expect(try client.status("other").collaborators == ["hospital_b"])
        #expect(try client.status("head").status == .queued)
        _ = try client.cancel("long")
        #expect(try federation.events.waitForFinish("head", timeout: 120).0 == .succeeded)
        #expect(try client.status("head").collaborators == ["hospital_a"])
        let events = federation.events.all
        #expect(try index(events, "end of other", finished("other")) < index(events, "offer of head", offered("head")))
    }

    /// `fx director start` killed while two experiments run: started again, it resumes both from
    /// their checkpoints, and the `fx envoy start` sites (capacity 2) come back by themselves.
    @Test func aDirectorRestartResumesEveryRunningExperiment() throws {
        let fixture = try DirectorFixture(envoys: Self.sites)
        try fixture.configureConcurrency(maximumConcurrent: 4, minimumEnvoys: 2)
        for site in Self.sites { try fixture.setCapacity(2, of: site) }
        var (director, port) = try fixture.startDirector()
        let envoys = try Self.sites.map { try fixture.startEnvoy($0, port: port) }
        let workspace = try fixture.makeWorkspace("resumed", rounds: 30)
        let client = fixture.clientOptions(port: port)
        // `x` names its sites (`--envoys`), `y` takes every one online: the same two here.
        try fixture.fx(["experiment", "submit", "--workspace", workspace, "--name", "x", "--envoys", "hospital_a, hospital_b"] + client)
        try fixture.fx(["experiment", "submit", "--workspace", workspace, "--name", "y"] + client)
        for name in ["x", "y"] { try DirectorFixture.waitForEvent("round_closed", ["experiment": name], in: director, timeout: 60) }
        director.process.kill()
        _ = try director.waitForExit(timeout: 10)

        (director, _) = try fixture.startDirector(port: port)
        for name in ["x", "y"] {
            try DirectorFixture.waitForEvent("experiment_finished", ["experiment": name, "status": "succeeded"], in: director, timeout: 120)
        }
        // Both resumed at once (each started again before the other finished), from their checkpoints.
        let lines = director.outputLines
        func line(_ kind: String, _ name: String) throws -> Int {
            try #require(lines.firstIndex { EventLine($0)?.matches(kind, ["experiment": name]) == true }, "no \(kind) of \(name)")
        }
        #expect(try line("experiment_started", "y") < line("experiment_finished", "x"))
        #expect(try line("experiment_started", "x") < line("experiment_finished", "y"))
        let history = try #require(try JSONSerialization.jsonObject(with: Data(fixture.fx(["experiment", "list", "--json"] + client).utf8))
            as? [[String: Any]])
        #expect(history.map { $0["status"] as? String } == ["succeeded", "succeeded"])
        #expect(history.map { $0["launches"] as? Int } == [2, 2])
        #expect(history.map { $0["roundsCompleted"] as? Int } == [30, 30])
        director.process.terminate()
        #expect(try director.waitForExit(timeout: 30).isSuccess, "\(director.errorTail())")
        for envoy in envoys { envoy.process.terminate() }
    }
}
