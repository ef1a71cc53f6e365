import Foundation
import Testing
import FLCore
import FLPKI
import FLTesting

/// A federation across hosts: the Director, three sites and the data scientist each on a machine of
/// their own (a network namespace with its own address, `NetworkNamespaces`), the Director's and its
/// aggregators' certificates naming the Director's address and nothing else. One site's cable is
/// pulled in the middle of an experiment and plugged back in.
///
/// Every wait is on a line the Director prints (`--events`) or a command's exit, with a deadline.
/// The tests run side by side: each has namespaces, a subnet and processes of its own.
@Suite struct MultiHostFederationTests {
    static let sites = ["hospital_a", "hospital_b", "hospital_c"]

    /// The cut site is left out of the rounds by the straggler policy (`round_timeout` short,
    /// `minimum_reporting` 2 of 3) while the Director still counts it online, then dropped once its
    /// Envoy misses its heartbeats; the rounds go on with the other two. When the link is back, the
    /// Envoy is online again (its connection resumed, or a new one) and its collaborator, whose
    /// silent connection the aggregator closed meanwhile (`idle_timeout` shorter than the cut),
    /// connects again and is counted in a later round of the same experiment.
    @Test(.enabled(if: NetworkNamespaces.isAvailable, "needs to make network namespaces: root (with CAP_SYS_ADMIN) and iproute2's `ip`"))
    func aSiteCutOffMidRoundIsLeftOutAndRejoinsWhenItsLinkReturns() throws {
        NetworkNamespaces.removeLeftovers()
        let network = try NetworkNamespaces(hosts: ["director"] + Self.sites + ["alice"])
        defer { network.teardown() }
        let federation = try Federation(network: network)
        defer { federation.stop() }
        let site = "hospital_c"
        try federation.submit(idleTimeout: 2)
        let cut = try federation.cutUntilDropped(site)

        let rejoined: Round
        do {
            // Counted beside the other two (a round under load may miss one of them: the next will not).
            rejoined = try federation.waitForRound(timeout: 60, closedAfter: cut.restored) { $0.reported == Self.sites }
        } catch {
            Issue.record("\(site) was not counted again after its link came back. The aggregator said:\n\(federation.aggregatorLog(mentioning: site))")
            throw error
        }
        #expect(rejoined.missing.isEmpty, "\(rejoined)")
        let listed = try Self.object(try federation.client(["envoy", "list", "--json"]))
        let envoys = try #require(listed["envoys"] as? [[String: Any]])
        #expect(envoys.map { $0["name"] as? String } == Self.sites)
        #expect(envoys.map { $0["online"] as? Bool } == [true, true, true], "\(envoys)")

        // What each round counted, from the Director's record, beside when its events came.
        let rounds = try federation.rounds()
        let lines = federation.director.outputLines
        func closed(_ range: Range<Int>) -> [Round] {
            lines[range].compactMap { EventLine($0) }.filter { $0.matches("round_closed", ["experiment": "across"]) && $0["final_validation"]?.asBool != true }
                .compactMap { $0["round"]?.asInt }.compactMap { n in rounds.first { $0.round == n } }
        }
        // Before the Director saw the site offline, the straggler policy closed a round without it,
        // with the minimum of two reports (rounds closed just after the cut may still count it: the
        // link went down while they ran).
        let beforeOffline = closed(cut.cut..<cut.offline)
        #expect(beforeOffline.contains { !$0.reported.contains(site) && $0.missing.contains(site) && $0.reported.count >= 2 },
                "no round closed without \(site) between the cut and its going offline: \(beforeOffline.suffix(10))")
        // No round that started after it went offline and closed before the link came back counted it.
        let started = Set(lines[cut.offline..<cut.restored].compactMap { EventLine($0) }
            .filter { $0.matches("round_started", ["experiment": "across"]) }.compactMap { $0["round"]?.asInt })
        let whileGone = closed(cut.offline..<cut.restored).filter { started.contains($0.round) }
        #expect(whileGone.contains { $0.round == cut.dropped.round }, "\(cut.dropped) is not among \(whileGone)")
        #expect(whileGone.allSatisfy { !$0.reported.contains(site) && $0.reported.count == 2 }, "\(whileGone)")
    }

    /// The same cut, with an aggregator that keeps a silent connection for 30 s: the collaborator's
    /// connection outlives the cut and resumes when the link is back, without connecting again. The
    /// aggregator dropped the site when the Director saw its Envoy go offline; the site's next request
    /// for tasks on the old connection lets it back in (`RoundMachine.requestTasks`). Before that, a
    /// link down longer than three heartbeats but shorter than `idle_timeout` left the site out of
    /// the rest of the experiment, online and connected.
    @Test(.enabled(if: NetworkNamespaces.isAvailable, "needs to make network namespaces: root (with CAP_SYS_ADMIN) and iproute2's `ip`"))
    func aSiteWhoseConnectionOutlivesTheCutIsCountedAgain() throws {
        NetworkNamespaces.removeLeftovers()
        let network = try NetworkNamespaces(hosts: ["director"] + Self.sites + ["alice"])
        defer { network.teardown() }
        let federation = try Federation(network: network)
        defer { federation.stop() }
        let site = "hospital_c"
        try federation.submit(idleTimeout: 30, longPoll: 5)
        let cut = try federation.cutUntilDropped(site)
        _ = try federation.waitForRound(timeout: 15, closedAfter: cut.restored) { $0.reported.contains(site) }
    }

    static func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
    }
}

/// One round as the Director recorded it.
private struct Round: CustomStringConvertible {
    var round: Int
    var reported: [String]
    var missing: [String]
    var description: String { "round \(round) reported \(reported) missing \(missing)" }
}

/// The Director on its host, the three Envoys on theirs, and `fx` commands typed on alice's laptop.
private final class Federation {
    let network: NetworkNamespaces
    let fixture: DirectorFixture
    let director: ProcessUnderTest
    let envoys: [ProcessUnderTest]
    let address: String
    let port: Int

    init(network: NetworkNamespaces) throws {
        self.network = network
        // A heartbeat every 2 s: the Director counts a site offline 6 s after its last one, well after
        // a round whose site is silent has timed out (1 s).
        fixture = try DirectorFixture(envoys: MultiHostFederationTests.sites, heartbeatPeriod: 2)
        address = try network.address(of: "director")
        // The Director's and the aggregators' certificates name the Director's address only.
        let cert = "\(fixture.directorDirectory)/cert"
        _ = try fixture.authority.certify(name: "director", hosts: [address], role: .director, directory: cert, replaceExisting: true)
        _ = try fixture.authority.certify(name: "aggregator", hosts: [address], role: .aggregator, directory: cert, replaceExisting: true)
        try fixture.writeDirectorConfiguration("""
            listen:
              host: \(address)
              port: 0
            federation:
              sample_shape: [30]
              target_shape: [1]
            envoys:
              heartbeat_period: 2
              startup_grace: 20
              decision_timeout: 20
            state_dir: state
            certificates:
              dir: cert
              name: director
            aggregators:
              host: \(address)
              address: \(address)

            """)
        director = try fixture.start("fx", ["director", "start", "--config", fixture.directorConfigurationPath, "--events"], name: "director",
                                     launcher: try network.launcher(for: "director"))
        let listening = try director.waitForLine(timeout: 30) { EventLine($0)?.matches("listening") == true }
        let port = try #require(EventLine(listening)?["port"]?.asInt)
        self.port = port
        let (fixture, address) = (fixture, address)
        envoys = try MultiHostFederationTests.sites.map { site in
            try fixture.start("fx", ["envoy", "start", "--name", site, "--config", fixture.envoyConfigurationPath(site), "--director", "\(address):\(port)"],
                              name: site, launcher: try network.launcher(for: site))
        }
        for site in MultiHostFederationTests.sites {
            try DirectorFixture.waitForEvent("envoy_online", ["envoy": site], in: director, timeout: 30)
        }
    }

    /// Ends the Director (and with it the aggregator) and the Envoys (and their collaborators).
    func stop() {
        for process in [director] + envoys { process.process.kill() }
        for process in [director] + envoys { _ = process.process.wait(timeout: 10) }
    }

    /// Submits experiment `across`: the breast-cancer workspace, with rounds enough to outlast the
    /// test, that close without a site silent for 1 s when the two others reported; its aggregator
    /// closes a connection silent for `idleTimeout` seconds, and holds a request for work up to `longPoll`.
    func submit(idleTimeout: Double, longPoll: Double = 30) throws {
        let path = try fixture.makeWorkspace("across", rounds: 10000)
        let plan = "\(path)/plan/plan.yaml"
        var text = try String(contentsOfFile: plan, encoding: .utf8)
        for (old, new) in [("rounds_to_train: 10000\n", "rounds_to_train: 10000\n    minimum_reporting: 2\n    round_timeout: 1.0\n    max_retries: 10\n"),
                           ("network:\n  defaults: defaults/network.yaml\n",
                            "network:\n  defaults: defaults/network.yaml\n  settings:\n    idle_timeout: \(idleTimeout)\n    handshake_timeout: 2.0\n"),
                           ("collaborator:\n  defaults: defaults/collaborator.yaml\n",
                            "collaborator:\n  defaults: defaults/collaborator.yaml\n  settings:\n    long_poll_seconds: \(longPoll)\n")] {
            guard text.contains(old) else { throw ProcessUnderTestError("\(plan) has no '\(old)'") }
            text = text.replacingOccurrences(of: old, with: new)
        }
        try text.write(toFile: plan, atomically: true, encoding: .utf8)
        try client(["experiment", "submit", "--workspace", path, "--name", "across"])
        // Steady: a round in which every site reported.
        _ = try waitForRound(timeout: 60) { Set($0.reported).isSuperset(of: MultiHostFederationTests.sites) }
    }

    /// Where in the Director's output a cut began, the site went offline and the link came back,
    /// and the first round that did not even expect the site.
    struct Cut {
        var cut: Int
        var offline: Int
        var dropped: Round
        var restored: Int
    }

    /// Cuts `site`'s link and keeps it cut until the Director counts its Envoy offline and the
    /// aggregator, told so, has closed a round that did not expect it (so the site cannot come back
    /// before it is dropped); then restores the link and waits for the Envoy to be online again
    /// (over its old connection or a new one).
    func cutUntilDropped(_ site: String) throws -> Cut {
        let cutAt = director.outputLines.count
        try network.cut(site)
        let offline = try waitForEvent("envoy_offline", ["envoy": site], after: cutAt, timeout: 30)
        let dropped = try waitForRound(timeout: 30, closedAfter: offline) { !$0.reported.contains(site) && !$0.missing.contains(site) }
        let restoredAt = director.outputLines.count
        try network.restore(site)
        _ = try waitForEvent("envoy_online", ["envoy": site], after: restoredAt, timeout: 30)
        return Cut(cut: cutAt, offline: offline, dropped: dropped, restored: restoredAt)
    }

    /// Runs `fx` on alice's laptop against the Director and returns its standard output.
    @discardableResult
    func client(_ arguments: [String]) throws -> String {
        let options = ["--director", "\(address):\(port)", "--cert-dir", fixture.userCertificateDirectory("alice"), "--identity", "alice"]
        let process = try fixture.start("fx", arguments + options, name: "alice-\(arguments.prefix(2).joined(separator: "-"))",
                                        launcher: try network.launcher(for: "alice"))
        let status = try process.waitForExit(timeout: 60)
        guard status.isSuccess else { throw ProcessUnderTestError("fx \(arguments.joined(separator: " ")) \(status):\n\(process.errorTail())") }
        return process.outputLines.joined(separator: "\n")
    }

    /// The index of the Director's first `kind` event with `fields` after its first `after` lines.
    func waitForEvent(_ kind: String, _ fields: [String: String], after: Int, timeout: Double) throws -> Int {
        try director.waitForLine(timeout: timeout, skipping: after) { EventLine($0)?.matches(kind, fields) == true }
        let lines = director.outputLines
        return try #require(lines.indices.dropFirst(after).first { EventLine(lines[$0])?.matches(kind, fields) == true })
    }

    /// The lines of the experiment's aggregator log that mention `site`, for failure messages.
    func aggregatorLog(mentioning site: String) -> String {
        let text = (try? String(contentsOfFile: "\(fixture.stateDirectory)/experiments/across/aggregator-1.stderr", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").filter { $0.contains(site) }.suffix(20).joined(separator: "\n")
    }

    /// Every training round of the experiment as the Director recorded it.
    func rounds() throws -> [Round] {
        let status = try MultiHostFederationTests.object(try client(["experiment", "status", "across", "--json"]))
        let rounds = try #require(status["rounds"] as? [[String: Any]])
        return rounds.filter { $0["finalValidation"] as? Bool != true && $0["bestValidation"] as? Bool != true }.compactMap { r in
            (r["round"] as? Int).map { Round(round: $0, reported: r["reported"] as? [String] ?? [], missing: r["missing"] as? [String] ?? []) }
        }
    }

    /// The first recorded round that closed after the Director's first `closedAfter` lines and
    /// satisfies `predicate`; asks the Director again after each round it closes, until `timeout`.
    func waitForRound(timeout: Double, closedAfter: Int = 0, where predicate: (Round) -> Bool) throws -> Round {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let seen = director.outputLines.count
            let closed = Set(director.outputLines.dropFirst(closedAfter).compactMap { EventLine($0) }
                .filter { $0.matches("round_closed", ["experiment": "across"]) }.compactMap { $0["round"]?.asInt })
            if let found = try rounds().first(where: { closed.contains($0.round) && predicate($0) }) { return found }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw ProcessUnderTestError("no such round within \(timeout) s: \(try rounds().suffix(5))") }
            try director.waitForLine(timeout: left, skipping: seen) { EventLine($0)?.matches("round_closed", ["experiment": "across"]) == true }
        }
    }
}
