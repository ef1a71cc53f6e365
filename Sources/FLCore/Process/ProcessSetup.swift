#if canImport(Glibc)
import Glibc
#endif
import CShims

/// What every SwiftFL executable does first: signals, memory and descriptors set up for a
/// long-running network process.
public enum ProcessSetup {
    /// Unblocks every signal (a parent thread may have passed on a mask that blocks SIGTERM), ignores
    /// SIGPIPE (a peer that disconnects shows up as a write error, not a dead process) and SIGXFSZ (a
    /// write beyond the file-size limit fails with EFBIG and is reported like a full disk, instead of
    /// killing the process before it can say so), keeps freed model-sized buffers for reuse, and
    /// raises the descriptor limit (`raiseDescriptorLimit`).
    public static func prepare() {
        fl_unblock_all_signals()
        signal(SIGPIPE, SIG_IGN)
        signal(SIGXFSZ, SIG_IGN)
        fl_retain_freed_memory()
        raiseDescriptorLimit()
    }

    /// Raises the soft limit on open file descriptors (`RLIMIT_NOFILE`, often 1,024) to the hard
    /// limit, so a server can hold thousands of connections; every socket here is used with `poll`,
    /// never `select`, so descriptors above 1,024 are fine. Returns the soft limit in force after.
    @discardableResult
    public static func raiseDescriptorLimit() -> Int {
        var limit = rlimit()
        let resource = Int32(RLIMIT_NOFILE.rawValue)
        guard getrlimit(resource, &limit) == 0 else { return -1 }
        var target = limit.rlim_max
        if target == rlim_t.max {
            // "Unlimited" cannot be a descriptor limit: the kernel's ceiling is fs.nr_open.
            target = rlim_t(kernelDescriptorCeiling() ?? 1 << 20)
        }
        if limit.rlim_cur < target {
            var raised = limit
            raised.rlim_cur = target
            if setrlimit(resource, &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur == rlim_t.max ? Int.max : Int(limit.rlim_cur)
    }

    private static func kernelDescriptorCeiling() -> Int? {
        let fd = open("/proc/sys/fs/nr_open", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        return Int(String(decoding: buffer[0..<n].prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }, as: UTF8.self))
    }
}
