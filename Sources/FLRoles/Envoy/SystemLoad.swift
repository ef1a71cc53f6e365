import Foundation

/// The site machine's load, for heartbeats: CPU use since the previous reading (from `/proc/stat`)
/// and available memory (`MemAvailable` in `/proc/meminfo`).
struct SystemLoad {
    private var previous: (busy: UInt64, total: UInt64)?

    /// Percent of all cores busy since the previous call (0 on the first).
    mutating func cpuPercent() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return 0 }
        let fields = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
        guard fields.count >= 4 else { return 0 }
        let total = fields.reduce(0, +)
        let idle = fields[3] + (fields.count > 4 ? fields[4] : 0)  // idle + iowait
        let now = (busy: total - idle, total: total)
        defer { previous = now }
        guard let before = previous, now.total > before.total else { return 0 }
        return Double(now.busy &- before.busy) / Double(now.total - before.total) * 100
    }

    /// Bytes of memory the machine can still give without swapping.
    static func availableBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            return (Int(line.dropFirst(13).filter(\.isNumber)) ?? 0) * 1024
        }
        return 0
    }
}
