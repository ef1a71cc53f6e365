import Foundation
import FLCore
import FLRoles

/// Runs an action on a queue when the process gets one of some signals, instead of the signal's
/// default (SIGINT and SIGTERM would end the process before a role stops its children and
/// flushes its state; SIGHUP would end it instead of reloading its configuration).
final class SignalHandler {
    private let sources: [any DispatchSourceSignal]

    private init(sources: [any DispatchSourceSignal]) { self.sources = sources }

    /// Handles `signals` with `action` until `cancel()`. Actions run one at a time.
    static func on(_ signals: [Int32], _ action: @escaping @Sendable () -> Void) -> SignalHandler {
        let queue = DispatchQueue(label: "swiftfl.signals")
        let sources = signals.map { sig -> any DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler(handler: action)
            source.resume()
            return source
        }
        return SignalHandler(sources: sources)
    }

    func cancel() {
        for source in sources { source.cancel() }
    }

    /// SIGHUP for a long-lived role: re-reads `configuration` through `reload` and tells the service
    /// manager (`RELOADING=1`, then `READY=1` with what changed, or why nothing did). A configuration
    /// that cannot be read is logged and changes nothing. `prefix` starts the status line.
    static func onReload(_ configuration: String, notifier: ServiceNotifier?, logger: Logger, prefix: @escaping @Sendable () -> String,
                         _ reload: @escaping @Sendable () throws -> ConfigurationReload) -> SignalHandler {
        on([SIGHUP]) {
            notifier?.reloading()
            do {
                let result = try reload()
                notifier?.ready(status: "\(prefix())reloaded \(configuration): \(result)")
            } catch {
                logger.error("cannot reload \(configuration), so the configuration in force is unchanged: \(error)")
                notifier?.ready(status: "\(prefix())the last reload failed: \(error)")
            }
        }
    }
}
