internal import COpenSSL

/// The process's use of OpenSSL as a whole.
public enum OpenSSLRuntime {
    /// Initializes OpenSSL so that it is never torn down at `exit` (no `OPENSSL_cleanup` registered
    /// with `atexit`): the roles exit while threads of theirs may still be inside OpenSSL (a heartbeat
    /// being sent, a connection being closed), and a library freed under such a thread aborts the
    /// process after its work is done. The kernel frees everything at exit anyway. Call it first
    /// thing in `main`, before anything else touches OpenSSL; later calls do nothing.
    public static func prepare() {
        _ = fl_openssl_init_without_atexit()
    }
}
