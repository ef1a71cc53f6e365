import Foundation

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
}
