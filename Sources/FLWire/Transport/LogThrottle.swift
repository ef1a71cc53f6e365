import FLCore

/// Log lines about a flood, condensed. The first event of a kind is logged as it is and opens an
/// interval; further events of that kind in the interval are only counted, and when it ends one line
/// says how many there were. A flood of thousands of refused connections so writes at most two lines
/// per kind per interval, while a lone refusal reads exactly as it would without the throttle.
///
/// Owned by one thread (a server's accept thread), so it needs no lock.
struct LogThrottle {
    /// Writes the line for `count` events of one kind suppressed over `seconds` seconds, the last
    /// of them from `lastSource`.
    typealias Summary = (_ count: Int, _ seconds: Int, _ lastSource: String) -> String

    private struct Window {
        var started = Deadline.now
        var ends: Deadline
        var level: LogLevel
        var fields: [String: String]
        var suppressed = 0
        var lastSource = ""
        var summary: Summary
    }

    let logger: Logger
    /// Seconds an interval lasts.
    let interval: Double
    /// Kinds tracked at once; events of further kinds share one, so memory stays bounded whatever
    /// reasons a peer can provoke.
    let maximumKinds: Int
    private var windows: [String: Window] = [:]

    init(logger: Logger, interval: Double = 10, maximumKinds: Int = 64) {
        self.logger = logger
        self.interval = interval
        self.maximumKinds = maximumKinds
    }

    /// Logs `message` when it is the first event of `kind` in an interval, and otherwise counts it.
    mutating func note(_ kind: String, level: LogLevel = .warning, source: String, fields: [String: String] = [:],
                       message: @autoclosure () -> String, summary: @escaping Summary) {
        let now = Deadline.now
        let key = windows[kind] != nil || windows.count < maximumKinds ? kind : "other"
        if var window = windows[key], now < window.ends {
            window.suppressed += 1
            window.lastSource = source
            windows[key] = window
            return
        }
        if let ended = windows.removeValue(forKey: key) { write(ended) }
        logger.log(level, message(), fields)
        windows[key] = Window(ends: Deadline.after(seconds: interval), level: level, fields: fields, summary: summary)
    }

    /// Writes the summaries of intervals that have ended (of every interval with `all`).
    mutating func flush(all: Bool = false) {
        guard !windows.isEmpty else { return }
        let now = Deadline.now
        for (key, window) in windows where all || now >= window.ends {
            windows.removeValue(forKey: key)
            write(window)
        }
    }

    private func write(_ window: Window) {
        guard window.suppressed > 0 else { return }
        let seconds = Int(min(interval, window.started.elapsedSeconds).rounded(.up))
        logger.log(window.level, window.summary(window.suppressed, max(1, seconds), window.lastSource), window.fields)
    }
}
