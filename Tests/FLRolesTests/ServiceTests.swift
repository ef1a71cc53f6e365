#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import FLCore
import FLRoles
import FLTesting
import FLWire

/// The Director and the Envoy as systemd services, against real processes: readiness and watchdog
/// notifications on a socket the test listens on (as systemd would), and configuration reloads on
/// SIGHUP that change what is allowed without dropping connections or experiments.
@Suite struct ServiceTests {
    /// A loopback port nothing listens on (bound, then released).
    static func unusedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw ProcessUnderTestError("cannot bind a loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @Test func readyMeansListeningOrRegisteredAndTheWatchdogIsFed() throws {
        let fixture = try DirectorFixture(envoys: ["hospital_a"])
        let directorSocket = try NotificationListener(path: fixture.directory.appending("director.notify"))
        let envoySocket = try NotificationListener(path: fixture.directory.appending("envoy.notify"))
        let port = try ServiceTests.unusedPort()

        // An Envoy whose Director is not up says why in its status, and is not ready.
        let envoy = try fixture.startEnvoy("hospital_a", port: port, environment: ["NOTIFY_SOCKET": envoySocket.path])
        let waiting = envoySocket.receive(timeout: 30)
        #expect(waiting?.hasPrefix("STATUS=Director at 127.0.0.1:\(port) not reachable") == true, "\(waiting ?? "nothing")")
        #expect(waiting?.contains("READY=1") == false)

        let (director, _) = try fixture.startDirector(port: port, environment: ["NOTIFY_SOCKET": directorSocket.path, "WATCHDOG_USEC": "200000"])
        let ready = directorSocket.wait(timeout: 30) { $0.contains("READY=1") }
        #expect(ready == "READY=1\nSTATUS=listening on 127.0.0.1:\(port)")
        // Half of WATCHDOG_USEC apart: a few pings arrive within a second or two.
        for _ in 0..<3 { #expect(directorSocket.wait(timeout: 10) { $0 == "WATCHDOG=1" } != nil) }

        let registered = envoySocket.wait(timeout: 30) { $0.contains("READY=1") }
        #expect(registered == "READY=1\nSTATUS=registered with the Director at 127.0.0.1:\(port)")
        try DirectorFixture.waitForEvent("envoy_online", ["envoy": "hospital_a"], in: director, timeout: 30)
        // No watchdog was asked of the Envoy, so it sends none.
        #expect(envoySocket.receive(timeout: 0.5) == nil)

        director.process.terminate()
        #expect(directorSocket.wait(timeout: 30) { $0 == "STOPPING=1" } != nil)
        #expect(try director.waitForExit(timeout: 60) == .exited(0))
        envoy.process.terminate()
        #expect(envoySocket.wait(timeout: 30) { $0 == "STOPPING=1" } != nil)
        #expect(try envoy.waitForExit(timeout: 60) == .exited(0))
    }

    /// The site refuses a workspace that runs its own code; its administrator switches the policy to
    /// an allow-list, approves that archive and reloads: the same archive is accepted, by the same
    /// process on the same connection.
    @Test func anEnvoyReloadsItsPolicyOnSIGHUPAndAcceptsTheApprovedArchive() throws {
        let federation = try LiveFederation(envoys: ["hospital_a"])
        let fixture = federation.fixture
        let envoy = try #require(federation.envoys["hospital_a"])
        let marker = fixture.directory.appending("ran-at-hospital_a")
        let workspace = try federation.externalWorkspace("external", touching: marker, initialize: "seeded")

        _ = try federation.client("alice").submit(workspace: Workspace(root: workspace), name: "before")
        let refused = try federation.finish("before")
        #expect(refused.status == "failed" && refused.reason.contains("policy (builtin)"), "\(refused)")
        let record = try #require(try AuditLog.read(fixture.auditLogPath("hospital_a")).first { $0.experiment == "before" })
        #expect(record.decision == .refused)

        let config = fixture.envoyConfigurationPath("hospital_a")
        try (try String(contentsOfFile: config, encoding: .utf8)).replacingOccurrences(of: "mode: builtin", with: "mode: allowlist")
            .write(toFile: config, atomically: true, encoding: .utf8)
        _ = try fixture.fx(["envoy", "approve", record.sha256, "--config", config, "--comment", "reviewed"])
        envoy.process.signal(SIGHUP)
        try envoy.waitForErrorLine(timeout: 30) { $0.contains("reloaded the configuration: now in force: policy") }

        _ = try federation.client("alice").submit(workspace: Workspace(root: workspace), name: "after")
        try DirectorFixture.waitForEvent("experiment_started", ["experiment": "after"], in: federation.director, timeout: 60)
        _ = try federation.finish("after")
        let audit = try AuditLog.read(fixture.auditLogPath("hospital_a"))
        #expect(audit.contains { $0.experiment == "after" && $0.decision == .accepted && $0.sha256 == record.sha256 }, "\(audit)")
        #expect(FileManager.default.fileExists(atPath: marker), "the approved workspace's command did not run at the site")
        #expect(envoy.process.status == nil, "the Envoy ended: \(envoy.errorTail())")
        #expect(envoy.errorLines.filter { $0.contains("registered with the Director") }.count == 1, "the Envoy reconnected:\n\(envoy.errorTail(20))")
    }

    /// The Director's operator takes alice off `users.allowed` and adds bob while an experiment runs:
    /// after SIGHUP bob is let in, alice's open connection is closed, and the experiment and the
    /// Envoys' connections carry on.
    @Test func theDirectorReloadsItsAllowListsOnSIGHUPWithoutDroppingTheFederation() throws {
        let federation = try LiveFederation(envoys: ["hospital_a", "hospital_b"]) { fixture in
            let config = fixture.directorConfigurationPath
            try (try String(contentsOfFile: config, encoding: .utf8) + "users:\n  allowed: [alice]\n")
                .write(toFile: config, atomically: true, encoding: .utf8)
        }
        let fixture = federation.fixture
        #expect(throws: (any Error).self) { try federation.client("bob").experiments() }
        let honest = try federation.startHonest(rounds: 40)
        let alice = try federation.connect(TLSConfiguration(certificateDirectory: fixture.userCertificateDirectory("alice"), name: "alice"))
        defer { alice.close() }
        #expect(try alice.call(ExperimentListRequest(), timeout: 10) is ExperimentListReply)

        let config = fixture.directorConfigurationPath
        try (try String(contentsOfFile: config, encoding: .utf8)).replacingOccurrences(of: "allowed: [alice]", with: "allowed: [bob]")
            .write(toFile: config, atomically: true, encoding: .utf8)
        federation.director.process.signal(SIGHUP)
        try federation.director.waitForErrorLine(timeout: 30) { $0.contains("reloaded the configuration: now in force: users.allowed") }
        try federation.director.waitForErrorLine(timeout: 30) { $0.contains("closed the connection of alice") && $0.contains("users.allowed") }

        #expect(try federation.client("bob").experiments().contains { $0.name == honest })
        #expect(throws: (any Error).self) { try alice.call(ExperimentListRequest(), timeout: 10) }
        #expect(throws: (any Error).self) { try federation.client("alice").experiments() }
        #expect(try federation.finish(honest).status == "succeeded")
        #expect(federation.director.process.status == nil)
        for (name, envoy) in federation.envoys {
            #expect(envoy.errorLines.filter { $0.contains("registered with the Director") }.count == 1, "\(name) reconnected:\n\(envoy.errorTail(20))")
        }
    }

    /// A configuration that no longer parses is reported and the one in force stays.
    @Test func aBrokenConfigurationOnReloadKeepsTheOneInForce() throws {
        let federation = try LiveFederation(envoys: ["hospital_a"])
        let config = federation.fixture.directorConfigurationPath
        let good = try String(contentsOfFile: config, encoding: .utf8)
        try (good + "users:\n  allowed: [alice\n").write(toFile: config, atomically: true, encoding: .utf8)
        federation.director.process.signal(SIGHUP)
        let line = try federation.director.waitForErrorLine(timeout: 30) { $0.contains("cannot reload") }
        #expect(line.contains(config) && line.contains("the configuration in force is unchanged"), "\(line)")
        #expect(try federation.client("bob").experiments().isEmpty)
        #expect(federation.director.process.status == nil)
    }
}
