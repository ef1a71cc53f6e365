import FLCore
import FLWire
import FLPKI

/// What every SwiftFL executable does first: signals, memory and descriptor limits
/// (`ProcessSetup`), and OpenSSL initialized so that it is not torn down under a thread at exit.
public enum ProcessStart {
    public static func prepare() {
        OpenSSLRuntime.prepare()
        ProcessSetup.prepare()
    }
}
