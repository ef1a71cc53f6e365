#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import FLCore
import FLRoles
import FLTesting
import FLWire

/// Eight collaborators train twenty rounds while this process opens and drops 500 garbage
/// connections at the aggregator's port: every round completes and the aggregator's memory stays flat.
@Suite(.serialized) struct LoadTests {
    @Test func roundsCompleteUnderAStormOfGarbageConnections() throws {
        let names = (1...8).map { "site_\($0)" }
        let fixture = try FederationFixture(template: "breast_cancer", collaborators: names)
        try fixture.write("plan/plan.yaml", """
            aggregator:
              defaults: defaults/aggregator.yaml
              settings:
                rounds_to_train: 20
                final_validation: false
            collaborator:
              defaults: defaults/collaborator.yaml
            task_runner:
              template: noop
              settings:
                parameters: 1000000
            network:
              defaults: defaults/network.yaml
            assigner:
              defaults: defaults/assigner.yaml
            tasks:
              defaults: defaults/tasks.yaml

            """)
        try fixture.write("plan/cols.yaml", "collaborators:\n" + names.map { "  - \($0)\n" }.joined())
        try fixture.initialize()
        let (aggregator, port) = try fixture.startAggregator()
        let sites = try names.map { try fixture.startCollaborator($0, port: port) }

        // The storm is paced by the rounds: after each round from the third on closes, 30 more garbage
        // connections, so they arrive while the following rounds run.
        func roundClosed(_ round: Int) throws {
            try aggregator.waitForLine(timeout: 120) { EventLine.matches($0, "round_closed", ints: ["round": round]) }
        }
        try roundClosed(1)
        let baseline = try #require(ResourceUsage.of(pid: aggregator.process.pid)).residentBytes
        var during = baseline
        for round in 2...18 {
            try roundClosed(round)
            Self.garbage(port: port, connections: 30, seed: UInt64(round))
            if let usage = ResourceUsage.of(pid: aggregator.process.pid) { during = max(during, usage.residentBytes) }
        }

        #expect(try aggregator.waitForExit(timeout: 300).isSuccess, "\(aggregator.errorTail())")
        for site in sites { #expect(try site.waitForExit(timeout: 60).isSuccess, "\(site.name): \(site.errorTail())") }
        #expect(FederationFixture.events("round_closed", in: aggregator).count == 20)
        // A flood is logged condensed: the first refusal of a kind as it is, then "refused N more connections …".
        let refused = aggregator.errorLines.reduce(0) { total, line in
            if line.contains("refused connection from") { return total + 1 }
            guard let range = line.range(of: "refused "), line.contains(" more connections in the last") else { return total }
            return total + (Int(line[range.upperBound...].prefix { $0.isNumber }) ?? 0)
        }
        #expect(refused >= 500, "only \(refused) garbage connections were logged as refused")
        #expect(during < baseline + 24 << 20, "aggregator RSS grew from \(baseline >> 20) MiB to \(during >> 20) MiB")
    }

    /// Opens `connections` TCP connections one after another, each sending a different kind of junk
    /// (nothing, random bytes, a plain HTTP request, half a TLS hello), then drops it.
    static func garbage(port: Int, connections: Int, seed: UInt64) {
        var state: UInt64 = 0x1234_5678 ^ seed
        for i in 0..<connections {
            guard let fd = try? Socket.connect(host: "127.0.0.1", port: port, deadline: .after(seconds: 5)) else { continue }
            var bytes: [UInt8]
            switch i % 4 {
            case 0: bytes = []
            case 1: bytes = (0..<512).map { _ in state = state &* 6364136223846793005 &+ 1; return UInt8(truncatingIfNeeded: state >> 56) }
            case 2: bytes = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
            default: bytes = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc]
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            _ = poll(&pfd, 1, 1000)
            if !bytes.isEmpty { _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
            close(fd)
        }
    }
}
