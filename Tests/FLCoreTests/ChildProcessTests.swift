#if canImport(Glibc)
import Glibc
#endif
import FLCore
import Foundation
import Testing

/// `ChildProcess.stop(grace:)`, the one stop sequence: SIGTERM, a bounded wait, SIGKILL, reaped.
@Suite struct ChildProcessTests {
    /// Starts `sh -c script` with its standard output on a pipe and waits for its first line, which
    /// the script prints once it is ready (its traps are set).
    static func started(_ script: String) throws -> ChildProcess {
        let child = try ChildProcess(executable: "/bin/sh", arguments: ["-c", script], standardOutput: .pipe)
        let first = try #require(Self.line(from: child))
        #expect(first == "ready")
        return child
    }

    /// One line of the child's standard output (nil at its end).
    static func line(from child: ChildProcess) -> String? {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while read(child.standardOutput!.fileDescriptor, &byte, 1) == 1 {
            if byte == 0x0A { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
        return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
    }

    @Test func aChildThatIgnoresSIGTERMIsKilledAfterTheGrace() throws {
        // The trap reports the SIGTERM and carries on; only SIGKILL ends it.
        let child = try Self.started("trap 'echo term' TERM; echo ready; while :; do sleep 1; done")
        let status = child.stop(grace: 5)
        #expect(status == .signalled(SIGKILL))
        #expect(child.status == .signalled(SIGKILL))
        // It did get the SIGTERM first (and lived through it until the SIGKILL).
        #expect(Self.line(from: child) == "term")
    }

    @Test func aChildThatHonoursSIGTERMEndsWithIt() throws {
        let child = try Self.started("echo ready; exec sleep 600")
        #expect(child.stop(grace: 600) == .signalled(SIGTERM))
    }

    @Test func aChildThatHasExitedIsNotSignalled() throws {
        let child = try ChildProcess(executable: "/bin/sh", arguments: ["-c", "exit 3"])
        #expect(child.wait() == .exited(3))
        #expect(child.stop(grace: 0) == .exited(3))
    }

    @Test func noGraceKillsAtOnce() throws {
        let child = try Self.started("trap '' TERM; echo ready; while :; do sleep 1; done")
        #expect(child.stop(grace: 0) == .signalled(SIGKILL))
    }
}
