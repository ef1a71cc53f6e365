import Foundation
import Synchronization
import FLCore
import FLRoles
import FLWire
import FLTesting

/// Envoys of a `DirectorFixture`'s sites run in this process, each on a thread of its own, against
/// a Director on loopback: for the benchmarks that need real Envoys but not their processes.
final class InProcessEnvoys: Sendable {
    private let fixture: DirectorFixture
    private let port: Int
    private let running = Mutex<[String: (envoy: Envoy, done: DispatchSemaphore)]>([:])

    /// Envoys of `fixture`'s sites for the Director listening on `port` of 127.0.0.1.
    init(fixture: DirectorFixture, port: Int) {
        self.fixture = fixture
        self.port = port
    }

    /// Starts the Envoy of site `name`, its configuration the fixture's, logging to `logger`.
    func start(_ name: String, logger: Logger) throws {
        let settings = try EnvoySettings.load(path: fixture.envoyConfigurationPath(name), name: name,
                                              director: Endpoint(host: "127.0.0.1", port: port))
        let envoy = try Envoy(settings: settings, logger: logger)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            try? envoy.run()
            done.signal()
        }
        thread.start()
        running.withLock { $0[name] = (envoy, done) }
    }

    /// Stops every Envoy started (their collaborators with them) and waits up to 30 s for each.
    func stopAll() {
        let all = running.withLock { r in
            defer { r = [:] }
            return Array(r.values)
        }
        for e in all { e.envoy.stop() }
        for e in all { _ = e.done.wait(timeout: .now() + 30) }
    }

    deinit { stopAll() }
}
