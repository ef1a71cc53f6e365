#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// This process's use of memory and CPU, read from the kernel.
public enum ResourceUsage {
    /// Peak resident set size in bytes (`VmHWM`).
    public static func peakResidentBytes() -> Int { statusField("VmHWM:") }
    /// Current resident set size in bytes (`VmRSS`).
    public static func residentBytes() -> Int { statusField("VmRSS:") }

    /// User + system CPU seconds used by this process so far.
    public static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    /// CPU seconds and peak RSS of another process, from `/proc/<pid>`; nil once it is gone.
    public static func of(pid: Int32) -> (cpuSeconds: Double, residentBytes: Int, peakResidentBytes: Int)? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        // Fields after the parenthesised command name; utime and stime are the 12th and 13th of them.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let utime = Double(fields[11]), let stime = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return ((utime + stime) / ticks, field("VmRSS:", in: status), field("VmHWM:", in: status))
    }

    /// Threads of process `pid` (this process when nil): the entries of `/proc/<pid>/task`; nil once it is gone.
    public static func threadCount(pid: Int32? = nil) -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid.map(String.init) ?? "self")/task"))?.count
    }

    /// Open file descriptors of process `pid` (this process when nil): the entries of `/proc/<pid>/fd`; nil once it is gone.
    public static func openDescriptorCount(pid: Int32? = nil) -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid.map(String.init) ?? "self")/fd"))?.count
    }

    private static func statusField(_ name: String) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        return field(name, in: text)
    }

    private static func field(_ name: String, in text: String) -> Int {
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let digits = line.dropFirst(name.count).filter(\.isNumber)
            return (Int(digits) ?? 0) * 1024
        }
        return 0
    }
}
