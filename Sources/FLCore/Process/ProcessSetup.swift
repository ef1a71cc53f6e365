#if canImport(Glibc)
import Glibc
#endif
import CShims

/// What every SwiftFL executable does first: signals and memory set up for a long-running network
/// process.
public enum ProcessSetup {
    /// Unblocks every signal (a parent thread may have passed on a mask that blocks SIGTERM), ignores
    /// SIGPIPE (a peer that disconnects shows up as a write error, not a dead process) and SIGXFSZ (a
    /// write beyond the file-size limit fails with EFBIG and is reported like a full disk, instead of
    /// killing the process before it can say so), and keeps freed model-sized buffers for reuse.
    public static func prepare() {
        fl_unblock_all_signals()
        signal(SIGPIPE, SIG_IGN)
        signal(SIGXFSZ, SIG_IGN)
        fl_retain_freed_memory()
    }
}
