import Foundation
import Testing
import FLCore
import FLRoles
import FLTesting
import FLWire

/// A real Director (`fx director start`) killed and restarted on the same state directory lists the
/// same experiments: its history comes back from the snapshot and the journal, and the journal goes
/// on being appended after the restart.
@Suite(.serialized) struct DirectorStoreRestartTests {
    static func client(_ fixture: DirectorFixture, port: Int) throws -> DirectorClient {
        try DirectorClient(director: Endpoint(host: "127.0.0.1", port: port),
                           tls: TLSConfiguration(certificateDirectory: fixture.userCertificateDirectory("alice"), name: "alice"))
    }

    /// What the state directory holds now, read as the next Director will read it.
    static func stored(_ fixture: DirectorFixture) throws -> [ExperimentInfo] {
        try DirectorStore(root: fixture.stateDirectory, logger: Logger(label: "test", sink: MemoryLogSink())).loadExperiments()
    }

    @Test func aKilledDirectoryRestartsWithTheSameHistory() throws {
        // No Envoys: what is submitted stays queued, so only the submissions and the cancel change it.
        let fixture = try DirectorFixture(envoys: [])
        let workspace = try fixture.makeWorkspace("w", rounds: 2)
        var (director, port) = try fixture.startDirector()
        var client = try Self.client(fixture, port: port)
        for name in ["first", "second", "third"] { _ = try client.submit(workspace: Workspace(root: workspace), name: name) }
        _ = try client.cancel("second")
        let before = try client.experiments()
        #expect(before.map(\.status) == [.queued, .cancelled, .queued])
        #expect(before.map(\.queuePosition) == [1, 0, 2])
        // Saves are written on the store's queue after the reply: wait until the cancel is on disk,
        // then kill the Director (no chance to write anything more).
        let deadline = Date().addingTimeInterval(30)
        while try Self.stored(fixture).map(\.status) != before.map(\.status), Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)  // polling the files, not waiting for time to pass
        }
        director.process.kill()
        _ = try director.waitForExit(timeout: 30)
        client.close()

        (director, port) = try fixture.startDirector()
        client = try Self.client(fixture, port: port)
        #expect(try client.experiments() == before)
        // The journal goes on after the restart; a clean stop writes whatever is pending.
        _ = try client.submit(workspace: Workspace(root: workspace), name: "fourth")
        _ = try client.cancel("first")
        let after = try client.experiments()
        #expect(after.map(\.name) == ["first", "second", "third", "fourth"])
        #expect(after.map(\.status) == [.cancelled, .cancelled, .queued, .queued])
        director.process.terminate()
        #expect(try director.waitForExit(timeout: 30).isSuccess)
        client.close()
        let journal = try JSONLinesFile.lines(in: "\(fixture.stateDirectory)/experiments.journal")
        #expect(journal.count > 1)

        (director, port) = try fixture.startDirector()
        client = try Self.client(fixture, port: port)
        #expect(try client.experiments() == after)
        client.close()
    }
}
