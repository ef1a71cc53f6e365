import Foundation
import Synchronization
import Testing
import FLCore
@testable import FLRoles
import FLTesting
import FLWire

/// Archives streamed by the Director to Envoys: several at once, each whole, on the peers' writers
/// (`Responder.post`: never a thread per download).
@Suite struct DirectorArchiveDownloadTests {
    @Test func concurrentDownloadsEachReceiveTheWholeArchive() throws {
        let sites = ["hospital_a", "hospital_b", "hospital_c", "hospital_d"]
        // Heartbeats are not sent here: a long period keeps the sites online for the test's length.
        let fixture = try DirectorFixture(envoys: sites, heartbeatPeriod: 20)
        let (_, port) = try fixture.startDirector()
        let clients = try sites.map { name in
            let tls = TLSConfiguration(certificateDirectory: "\(fixture.envoyDirectory(name))/cert", name: name)
            let client = try FrameClient.connect(host: "127.0.0.1", port: port, context: TLSContext(tls, side: .client), timeout: 10,
                                                 idleTimeout: 60, expecting: ExpectedPeer(name: "director", role: .director))
            let shard = ShardDescriptor(path: "\(name).csv", labelColumn: "label", sampleShape: [30], targetShape: [1], sampleCount: 10)
            #expect(try client.call(EnvoyRegistration(envoy: name, shard: shard), timeout: 10) is EnvoyWelcome)
            return client
        }
        defer { for client in clients { client.close() } }
        let alice = try DirectorClient(director: Endpoint(host: "127.0.0.1", port: port),
                                       tls: TLSConfiguration(certificateDirectory: fixture.userCertificateDirectory("alice"), name: "alice"))
        let submitted = try alice.submit(workspace: Workspace(root: fixture.makeWorkspace("x")), name: "x")
        for client in clients {
            var offer: WorkAssignment?
            while offer == nil {
                let reply = try client.call(WorkRequest(experiment: "", launch: 0, state: .idle, maximumWaitSeconds: 5), timeout: 30)
                if let assignment = reply as? WorkAssignment, assignment.action == .offer { offer = assignment }
            }
            #expect(offer?.archiveSHA256 == submitted.archiveSHA256)
        }
        // Every site asks at once, one of them twice on its one connection.
        let requests = clients.indices.map { $0 } + [0]
        let digests = Mutex<[Int: [String]]>([:])
        DispatchQueue.concurrentPerform(iterations: requests.count) { i in
            let index = requests[i]
            // Received as the Envoy receives it.
            let digest = try? clients[index].call(ArchiveRequest(experiment: "x"), timeout: 60) { reply, stream -> String in
                guard reply is ArchiveReply, let stream else { throw DirectorError("no archive") }
                return try ArchiveReceiver.receive(stream, to: fixture.directory.appending("received-\(i).tar"))
            }
            digests.withLock { $0[index, default: []].append(digest ?? "failed") }
        }
        let received = digests.withLock { $0 }
        #expect(received.keys.sorted() == Array(clients.indices))
        for (index, list) in received {
            #expect(list == Array(repeating: submitted.archiveSHA256, count: index == 0 ? 2 : 1), "\(sites[index]): \(list)")
        }
    }

    /// An Envoy fetches archives on a connection of its own: while one waits, unread, in that
    /// connection, the heartbeats on its main connection are answered within their period.
    @Test func heartbeatsAreAnsweredWhileAnArchiveIsOnItsWay() throws {
        let period = 1.0
        let fixture = try DirectorFixture(envoys: ["hospital_a"], heartbeatPeriod: period)
        let (_, port) = try fixture.startDirector()
        let tls = TLSConfiguration(certificateDirectory: "\(fixture.envoyDirectory("hospital_a"))/cert", name: "hospital_a")
        func connect() throws -> FrameClient {
            try FrameClient.connect(host: "127.0.0.1", port: port, context: TLSContext(tls, side: .client), timeout: 10, idleTimeout: 60,
                                    expecting: ExpectedPeer(name: "director", role: .director))
        }
        let main = try connect()
        defer { main.close() }
        let shard = ShardDescriptor(path: "a.csv", labelColumn: "label", sampleShape: [30], targetShape: [1], sampleCount: 10)
        #expect(try main.call(EnvoyRegistration(envoy: "hospital_a", shard: shard), timeout: 10) is EnvoyWelcome)
        // 64 MiB: far more than the sockets' buffers hold, so the stream stalls while nobody reads it.
        let workspace = try fixture.makeWorkspace("large")
        try Data(count: 64 << 20).write(to: URL(fileURLWithPath: "\(workspace)/blob.bin"))
        let alice = try DirectorClient(director: Endpoint(host: "127.0.0.1", port: port),
                                       tls: TLSConfiguration(certificateDirectory: fixture.userCertificateDirectory("alice"), name: "alice"))
        let submitted = try alice.submit(workspace: Workspace(root: workspace), name: "large")
        var offer: WorkAssignment?
        while offer == nil {
            let reply = try main.call(WorkRequest(experiment: "", launch: 0, state: .idle, maximumWaitSeconds: 5), timeout: 30)
            if let assignment = reply as? WorkAssignment, assignment.action == .offer { offer = assignment }
        }

        let download = try connect()
        defer { download.close() }
        let streaming = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let digest = Mutex<String?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread {
            let received = try? download.call(ArchiveRequest(experiment: "large"), timeout: 120) { reply, stream -> String in
                guard reply is ArchiveReply, let stream else { throw DirectorError("no archive") }
                streaming.signal()
                release.wait()
                return try ArchiveReceiver.receive(stream, to: fixture.directory.appending("large.tar"))
            }
            digest.withLock { $0 = received }
            done.signal()
        }.start()
        #expect(streaming.wait(timeout: .now() + 60) == .success)
        for _ in 0..<3 {
            let beat = EnvoyHeartbeat(cpuPercent: 0, residentBytes: 0, availableBytes: 0, collaboratorRunning: false, experiment: "")
            #expect(try main.call(beat, timeout: period) is OkReply)
        }
        release.signal()
        #expect(done.wait(timeout: .now() + 120) == .success)
        #expect(digest.withLock { $0 } == submitted.archiveSHA256)
    }
}
