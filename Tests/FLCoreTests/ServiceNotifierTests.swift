import Foundation
import Testing
import FLCore
import FLTesting

@Suite struct ServiceNotifierTests {
    @Test func noSocketNoNotifier() throws {
        #expect(try ServiceNotifier(environment: [:]) == nil)
        #expect(try ServiceNotifier(environment: ["NOTIFY_SOCKET": ""]) == nil)
    }

    @Test func sendsReadyStatusAndReloadingAsOneDatagramEach() throws {
        let folder = try FLTesting.TemporaryDirectory(prefix: "notify")
        let listener = try NotificationListener(path: folder.appending("notify.sock"))
        let notifier = try #require(try ServiceNotifier(environment: ["NOTIFY_SOCKET": listener.path]))
        #expect(notifier.watchdogInterval == nil)
        notifier.ready(status: "listening on 127.0.0.1:50050\nsecond line")
        #expect(listener.receive(timeout: 5) == "READY=1\nSTATUS=listening on 127.0.0.1:50050 second line")
        notifier.reloading()
        let reloading = try #require(listener.receive(timeout: 5))
        #expect(reloading.hasPrefix("RELOADING=1\nMONOTONIC_USEC="))
        #expect(UInt64(reloading.split(separator: "=").last ?? "") ?? 0 > 0)
        notifier.stopping()
        #expect(listener.receive(timeout: 5) == "STOPPING=1")
    }

    @Test func watchdogPingsAtHalfTheIntervalOnlyWhileAlive() throws {
        let folder = try FLTesting.TemporaryDirectory(prefix: "notify")
        let listener = try NotificationListener(path: folder.appending("notify.sock"))
        let notifier = try #require(try ServiceNotifier(environment: ["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "100000",
                                                                      "WATCHDOG_PID": "\(getpid())"]))
        #expect(notifier.watchdogInterval == 0.05)
        let alive = Flag(true)
        notifier.startWatchdog { alive.value }
        for _ in 0..<3 { #expect(listener.receive(timeout: 5) == "WATCHDOG=1") }
        alive.value = false
        // Pings sent before the flag turned are drained; then none come while not alive.
        while listener.receive(timeout: 0.3) != nil {}
        #expect(listener.receive(timeout: 0.3) == nil)
    }

    @Test func aWatchdogMeantForAnotherProcessIsNotKept() throws {
        let notifier = try #require(try ServiceNotifier(environment: ["NOTIFY_SOCKET": "@swiftfl-test", "WATCHDOG_USEC": "100000",
                                                                      "WATCHDOG_PID": "1"], processID: 4242))
        #expect(notifier.watchdogInterval == nil)
    }

    @Test func abstractSocketsAreReached() throws {
        // An abstract name: a listener bound to "\0name" receives what is sent to "@name".
        let name = "swiftfl-notify-\(UUID().uuidString.prefix(8))"
        let listener = try NotificationListener(abstractName: name)
        let notifier = try #require(try ServiceNotifier(environment: ["NOTIFY_SOCKET": "@\(name)"]))
        notifier.status("still here")
        #expect(listener.receive(timeout: 5) == "STATUS=still here")
    }

    @Test(arguments: [
        (["NOTIFY_SOCKET": "relative/path"], "NOTIFY_SOCKET=relative/path: expected an absolute path"),
        (["NOTIFY_SOCKET": "/" + String(repeating: "x", count: 200)], "longer than a socket path may be"),
        (["NOTIFY_SOCKET": "/run/notify", "WATCHDOG_USEC": "soon"], "WATCHDOG_USEC=soon: expected a positive number of microseconds"),
        (["NOTIFY_SOCKET": "/run/notify", "WATCHDOG_USEC": "0"], "WATCHDOG_USEC=0: expected a positive number"),
    ])
    func malformedSettingsAreRefusedByName(environment: [String: String], message: String) {
        let error = #expect(throws: ServiceNotifierError.self) { try ServiceNotifier(environment: environment) }
        #expect(error?.description.contains(message) == true, "\(String(describing: error))")
    }
}

/// A Bool shared with the watchdog's queue.
private final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Bool
    init(_ value: Bool) { stored = value }
    var value: Bool {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}
